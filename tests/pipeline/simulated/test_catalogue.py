"""The simulated municipality decides what its inquiries mean, and kanalpuls's rules must recover it.

pipeline/simulated/catalogue.py says, from the municipality's own design, which task and
department each phone queue, ticket service, mailbox, form, page, case type and chat topic
means. The mapping rules kanalpuls ships for it (deploy/mapping.yaml) are the product's
answer to the same question: here they are compared name by name, over every name the
simulated sources write, and the simulator is shown to run without the product's rules or
keyer at all, so that a wrong rule cannot agree with itself.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest

from connectors.mapping import MappingRules, load_mapping
from pipeline.ground.privacy import ContactKeyer
from pipeline.simulated.catalogue import CATALOGUE, TASK_LABELS, meaning
from pipeline.simulated.exchange import EXCHANGE_MAILBOXES
from pipeline.simulated.exports import CASE_TASKS, CHAT_TOPICS
from pipeline.simulated.imap import IMAP_MAILBOXES
from pipeline.simulated.municipality import DEFAULT_MAPPING_FILE, simulate
from pipeline.simulated.phone import PHONE_QUEUES
from pipeline.simulated.truth import SOURCES
from pipeline.simulated.walkins import TICKET_SERVICES
from pipeline.simulated.web import FORMS, OTHER_PAGES, TASK_PAGES
from schemas import UNCLASSIFIED


def _is_kle(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and all(len(p) == 2 and p.isdigit() for p in parts)


def names_written() -> dict[str, set[str]]:
    """Every name the simulated sources write that a mapping rule set classifies, by rule set; web
    paths as the connector matches them (decoded, without the query string)."""
    pages = {p for p, _ in TASK_PAGES} | set(OTHER_PAGES) | {"/soeg"}
    pages |= {page for page, _, _, receipt, _ in FORMS} | {receipt for *_, receipt, _ in FORMS if receipt}
    return {
        "phone_queue": set(PHONE_QUEUES),
        "ticket_service": set(TICKET_SERVICES),
        "mailbox": set(EXCHANGE_MAILBOXES) | set(IMAP_MAILBOXES),
        "web_form": {unquote(post) for _, post, *_ in FORMS},
        "web_page": {unquote(page) for page in pages},
        "channel_export": {task for task, *_ in CASE_TASKS if not _is_kle(task)} | {topic for topic, _ in CHAT_TOPICS},
    }


def disagreements(rules: MappingRules) -> list[tuple[str, str, tuple[str, str], tuple[str, str]]]:
    """(rule set, name, what the rules give, what the municipality means) wherever they differ."""
    out = []
    for rule_set, names in names_written().items():
        for name in sorted(names):
            got = rules.classify(rule_set, name)
            recovered = (got.task, got.department if got.task != UNCLASSIFIED else "")
            if recovered != tuple(meaning(rule_set, name)):
                out.append((rule_set, name, recovered, tuple(meaning(rule_set, name))))
    return out


@pytest.fixture(scope="module")
def rules() -> MappingRules:
    return load_mapping(DEFAULT_MAPPING_FILE)


def test_the_mapping_rules_recover_every_task_and_department_the_municipality_means(rules: MappingRules) -> None:
    assert disagreements(rules) == []
    # Unmapped on purpose, one of each kind: the rules must leave them unclassified, not guess.
    assert {(kind, name) for kind, names in names_written().items() for name in names
            if meaning(kind, name).task == UNCLASSIFIED} >= {
        ("phone_queue", "omstilling"), ("ticket_service", "Andet"), ("mailbox", "post@kommune.dk"),
        ("web_form", "/selvbetjening/hundetegn/send"), ("channel_export", "Hundetegn"), ("channel_export", "Andet")}


def test_a_wrong_rule_shows_as_a_difference(rules: MappingRules) -> None:
    """The catalogue is not read from the rules: a rule pointing the pas queue at the wrong task disagrees."""
    data = rules.model_dump()
    data["sources"]["phone_queue"][0]["task"] = "85.08.00"  # the pas rule, first of its set
    assert disagreements(MappingRules.model_validate(data)) == [("phone_queue", "pas", ("85.08.00", "Borgerservice"), ("85.06.00", "Borgerservice"))]


def test_every_catalogue_entry_is_a_name_a_source_writes() -> None:
    written = names_written()
    assert {kind: set(names) - written[kind] for kind, names in CATALOGUE.items()} == {kind: set() for kind in CATALOGUE}


def test_case_rows_with_a_kle_code_keep_the_department_they_state(rules: MappingRules) -> None:
    """A case-system row with a KLE code states its task; where it states no department, no rule may add one."""
    for task, department, *_ in CASE_TASKS:
        if _is_kle(task) and not department:
            assert rules.classify("channel_export", task).department == "", task


def test_task_labels_are_the_ones_the_rules_give(rules: MappingRules) -> None:
    meant = {m.task for names in CATALOGUE.values() for m in names.values()} - {UNCLASSIFIED}
    assert meant <= set(TASK_LABELS)
    assert {task: rules.tasks.get(task) for task in TASK_LABELS} == TASK_LABELS


def test_the_simulator_runs_without_the_products_rules_or_keyer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ground truth is the world's own: neither classifying nor keying is asked of kanalpuls while it is written."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulator consulted the product")

    monkeypatch.setattr(MappingRules, "classify", refuse)
    monkeypatch.setattr(ContactKeyer, "key", refuse)
    monkeypatch.setattr("connectors.mapping.load_mapping", refuse)
    truth = simulate(tmp_path, days=3, seed=9, start=date(2025, 11, 24))
    assert {row.source for row in truth.events} == set(SOURCES)
    assert truth.repeat_candidates and any(row.task != UNCLASSIFIED for row in truth.inquiries)
