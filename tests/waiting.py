"""Waiting for an asynchronous outcome in tests (the same helper the benchmarks use)."""

from pipeline.worker.supervise import wait_for

__all__ = ["wait_for"]
