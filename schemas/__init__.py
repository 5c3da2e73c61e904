"""The event contract every connector produces and every consumer reads.

Producers in other languages use the JSON Schema files beside this module
(`inquiry_event.v1.json`); the wire format is described in `WIRE_FORMAT.md`.
"""

from schemas.inquiry import (
    UNCLASSIFIED,
    Channel,
    DeadLetter,
    Direction,
    InquiryEvent,
    InquiryKind,
    RequesterType,
    SourceRef,
    Stage,
    make_event_id,
    make_inquiry_id,
)

__all__ = [
    "Channel",
    "DeadLetter",
    "Direction",
    "InquiryEvent",
    "InquiryKind",
    "RequesterType",
    "SourceRef",
    "Stage",
    "UNCLASSIFIED",
    "make_event_id",
    "make_inquiry_id",
]
