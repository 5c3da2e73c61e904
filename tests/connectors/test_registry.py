"""Every connector kind can be built from its default config, as `kanalpuls ingest <kind>` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.mapping import load_mapping
from connectors.registry import ALIASES, KINDS, UnknownConnector, get_kind
from pipeline.ground.privacy import ContactKeyer

CONTEXT = ConnectorContext("751", load_mapping(Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml"),
                           ContactKeyer(b"k"))


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_builds_from_its_default_config(name: str) -> None:
    kind = get_kind(name)
    parser = kind.build(kind.config_model(), CONTEXT)
    assert parser.kind == name


def test_aliases_name_known_kinds_and_unknown_names_are_refused() -> None:
    assert all(target in KINDS for target in ALIASES.values())
    with pytest.raises(UnknownConnector, match="asterisk_queue_log"):
        get_kind("fax")
