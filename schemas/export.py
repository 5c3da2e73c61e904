"""JSON Schema files for producers in other languages, generated from the pydantic models.

The committed `*.v1.json` files beside this module are the output of
`python -m schemas.export`; a test fails when a model changes without regenerating them.
The schemas describe what goes on the wire, so they are the models' serialization schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.inquiry import DeadLetter, InquiryEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://kanalpuls.dk/schemas/"
SCHEMA_DIR = Path(__file__).resolve().parent

_DOCUMENTS: dict[str, tuple[type[BaseModel], str, str]] = {
    "inquiry_event.v1.json": (
        InquiryEvent,
        "InquiryEvent v1",
        "One stage of one inquiry (henvendelse), normalised and free of personal data. "
        "Messages on the Kafka topic `inquiries` carry these as newline-delimited JSON; "
        "see WIRE_FORMAT.md.",
    ),
    "dead_letter.v1.json": (
        DeadLetter,
        "DeadLetter v1",
        "A record that could not become an InquiryEvent, with the reason and the raw record "
        "masked; one per message on the Kafka topic `inquiries.dlq`.",
    ),
}


def _wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    # InquiryEvent's occurred_at has a field_serializer annotated `-> str`, which makes
    # pydantic drop the date-time format from the serialization schema; the value on the
    # wire is an RFC 3339 timestamp, so say so.
    occurred_at = schema.get("properties", {}).get("occurred_at")
    if occurred_at is not None and occurred_at.get("type") == "string":
        occurred_at.setdefault("format", "date-time")
    return schema


def json_schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) document for each record on the wire."""
    documents = {}
    for name, (model, title, description) in _DOCUMENTS.items():
        schema = _wire_schema(model)
        documents[name] = {
            "$schema": SCHEMA_DIALECT,
            "$id": SCHEMA_BASE_URL + name,
            **schema,
            "title": title,
            "description": description,
        }
    return documents


def write_json_schemas(directory: Path) -> list[Path]:
    """Write every schema document into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in json_schema_documents().items():
        path = directory / name
        path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_json_schemas(SCHEMA_DIR):
        print(written_path)
