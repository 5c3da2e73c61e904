"""Connectors: one file per source format, turning raw log records into InquiryEvents.

Each connector module parses one raw record into events, a skip (housekeeping lines that
are not inquiries) or a rejection. Reading files, following them, checkpointing, batching
and producing to Kafka is shared code in `connectors.runtime`.
"""
