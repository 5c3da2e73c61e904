"""Every connector kind can be built from its default config, as `kanalpuls ingest <kind>` does."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import ConnectorContext
from connectors.mapping import load_mapping
from connectors.registry import ALIASES, KINDS, UnknownConnector, get_kind
from pipeline.ground.privacy import ContactKeyer
from pipeline.ground.settings import HttpSettings, Settings

CONTEXT = ConnectorContext("751", load_mapping(Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml"),
                           ContactKeyer(b"k"))


@pytest.mark.parametrize("name", sorted(name for name, kind in KINDS.items() if kind.parser_class is not None))
def test_each_parsing_kind_builds_its_parser_from_its_default_config(name: str) -> None:
    kind = get_kind(name)
    parser = kind.parser(kind.config_model(), CONTEXT)
    assert parser.kind == name


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_builds_its_source_from_its_default_config_and_says_what_it_counts(name: str, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, http=HttpSettings(token=SecretStr(secrets.token_urlsafe(32))))
    kind = get_kind(name)
    paths = [tmp_path / "a.log"] if kind.traits.takes_paths else []
    source = kind.source(settings, kind.config_model(), paths, checkpointed=False)
    assert callable(getattr(source, "run"))
    assert kind.traits.unit in ("file(s)", "folder(s)", "request(s)")
    assert kind.paths_problem(paths) is None
    assert kind.paths_problem([] if paths else [tmp_path / "a.log"]) is not None


def test_a_kind_without_a_parser_says_so() -> None:
    with pytest.raises(UnknownConnector, match="parses no records"):
        get_kind("http").parser(get_kind("http").config_model(), CONTEXT)


def test_aliases_name_known_kinds_and_unknown_names_are_refused() -> None:
    assert all(target in KINDS for target in ALIASES.values())
    with pytest.raises(UnknownConnector, match="asterisk_queue_log"):
        get_kind("fax")
