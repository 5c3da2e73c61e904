"""Mapping rules: first match wins, globs ignore case, unmatched is unclassified, errors name the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.mapping import MappingError, MappingRules, load_mapping
from schemas import InquiryKind, RequesterType

REPO = Path(__file__).resolve().parents[2]

RULES = """\
municipality: "751"
tasks:
  "85.06.00": "Pas"
  "85.08.00": "Kørekort"
  "23.02.00": "Jobcenter og ydelser"
sources:
  phone_queue:
    - {match: "pas-akut", task: "85.08.00", department: Borgerservice}
    - {match: "pas*", task: "85.06.00", department: Borgerservice, inquiry_kind: dialogue, requester_type: citizen}
    - {match: "job?enter", task: "23.02.00", department: Jobcenter}
    - {match: "*", task: "unclassified", department: Omstilling}
  ticket_service:
    - {match: "Kørekort*", task: "85.08.00", department: Borgerservice, inquiry_kind: transaction}
"""


def write(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def rules(tmp_path: Path) -> MappingRules:
    return load_mapping(write(tmp_path, RULES))


def test_first_matching_rule_wins(rules: MappingRules) -> None:
    # "pas-akut" also matches "pas*" and "*" further down; the first rule decides
    got = rules.classify("phone_queue", "pas-akut")
    assert (got.task, got.task_label) == ("85.08.00", "Kørekort")


def test_glob_matches_with_star_and_question_mark(rules: MappingRules) -> None:
    got = rules.classify("phone_queue", "pas-fornyelse")
    assert (got.task, got.task_label, got.department) == ("85.06.00", "Pas", "Borgerservice")
    assert got.inquiry_kind is InquiryKind.dialogue and got.requester_type is RequesterType.citizen
    assert rules.classify("phone_queue", "jobcenter").task == "23.02.00"


@pytest.mark.parametrize("key", ["PAS-Fornyelse", "Pas", "JOBCENTER"])
def test_matching_ignores_case(rules: MappingRules, key: str) -> None:
    assert rules.classify("phone_queue", key).task != "unclassified"


def test_matching_ignores_case_of_non_ascii_letters(rules: MappingRules) -> None:
    assert rules.classify("ticket_service", "KØREKORT fornyelse").task == "85.08.00"


def test_catch_all_rule_with_unclassified_task_keeps_its_department(rules: MappingRules) -> None:
    got = rules.classify("phone_queue", "omstilling")
    assert (got.task, got.task_label, got.department) == ("unclassified", "Uklassificeret", "Omstilling")


def test_unmatched_key_is_unclassified(rules: MappingRules) -> None:
    got = rules.classify("ticket_service", "Skilsmisse")
    assert (got.task, got.task_label, got.department) == ("unclassified", "Uklassificeret", "")
    assert got.inquiry_kind is InquiryKind.unknown and got.requester_type is RequesterType.unknown


def test_unknown_rule_set_is_unclassified(rules: MappingRules) -> None:
    assert rules.classify("mailbox", "pas@kommune.dk").task == "unclassified"


# --------------------------------------------------------------------------- load errors


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'municipality: "751"\ntasks: [\n', "broken.yaml")
    with pytest.raises(MappingError, match="not valid YAML") as info:
        load_mapping(path)
    assert str(path) in str(info.value)


def test_unknown_field_names_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace("job?enter\",", "job?enter\", colour: red,"), "unknown.yaml")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    message = str(info.value)
    assert str(path) in message
    assert "sources.phone_queue.2.colour" in message


def test_task_used_in_sources_but_missing_under_tasks_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('  "23.02.00": "Jobcenter og ydelser"\n', ""), "missing.yaml")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    message = str(info.value)
    assert str(path) in message
    assert "23.02.00" in message and "tasks" in message


def test_bad_task_pattern_names_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('task: "23.02.00"', 'task: "23.2.0"'), "pattern.yaml")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    message = str(info.value)
    assert str(path) in message
    assert "sources.phone_queue.2.task" in message


def test_bad_municipality_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('municipality: "751"', 'municipality: "75"'))
    with pytest.raises(MappingError, match="municipality"):
        load_mapping(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(MappingError, match="cannot read") as info:
        load_mapping(path)
    assert str(path) in str(info.value)


def test_changed_file_is_reloaded(tmp_path: Path) -> None:
    import os

    path = write(tmp_path, RULES)
    assert load_mapping(path).classify("phone_queue", "pas").task == "85.06.00"
    write(tmp_path, RULES.replace('{match: "pas*", task: "85.06.00"', '{match: "pas*", task: "85.08.00"'))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later mtime, whatever the clock
    assert load_mapping(path).classify("phone_queue", "pas").task == "85.08.00"


# --------------------------------------------------------------------------- the shipped rules


def test_shipped_mapping_loads_and_every_rule_task_has_a_label() -> None:
    rules = load_mapping(REPO / "deploy" / "mapping.yaml")
    assert rules.sources, "deploy/mapping.yaml has no rule sets"
    for rule_set, rule_list in rules.sources.items():
        assert rule_list, rule_set
        for rule in rule_list:
            if rule.task != "unclassified":
                assert rules.tasks.get(rule.task), f"{rule_set}: {rule.match} -> {rule.task} has no label"


def test_shipped_mapping_classifies_a_known_queue_with_its_label() -> None:
    rules = load_mapping(REPO / "deploy" / "mapping.yaml")
    got = rules.classify("phone_queue", "Pas-Koerekort")
    assert (got.task, got.task_label, got.department) == ("85.06.00", "Pas", "Borgerservice")


def test_answers_are_cached_but_garbage_keys_cannot_grow_the_cache_without_bound() -> None:
    from connectors import mapping as mapping_module

    rules = load_mapping(Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml").model_copy(deep=True)
    first = rules.classify("phone_queue", "pas")
    assert rules.classify("phone_queue", "pas") is first
    for n in range(mapping_module._MAX_CACHED + 10):
        assert rules.classify("phone_queue", f"garbage-{n}").task == "unclassified"
    assert len(rules._cache) <= mapping_module._MAX_CACHED
    assert rules.classify("phone_queue", "pas").task == first.task
