"""Mapping rules: which task, department and inquiry kind a queue, service or mailbox means.

Rules live in YAML (default `deploy/mapping.yaml`) so that an operator can change them
without a release, and check them on a real log with `kanalpuls ingest --dry-run`.
Anything no rule matches is `unclassified`: counted, never dropped.
"""

from __future__ import annotations

import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from pipeline.ground.errors import TerminalError
from schemas import UNCLASSIFIED, InquiryKind, RequesterType
from schemas.inquiry import MUNICIPALITY_PATTERN, NAME_MAX, TASK_PATTERN

_MAX_CACHED = 8192


class MappingError(TerminalError):
    """The mapping file cannot be used; the message names the file and the field."""


class Classification(BaseModel):
    """What a source key means in the municipality's own terms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(default=UNCLASSIFIED, pattern=TASK_PATTERN)
    task_label: str = Field(default="", max_length=NAME_MAX)
    department: str = Field(default="", max_length=NAME_MAX)
    inquiry_kind: InquiryKind = InquiryKind.unknown
    requester_type: RequesterType = RequesterType.unknown

    def event_fields(self) -> dict[str, object]:
        """The InquiryEvent fields this classification decides, for `InquiryEvent(**...)`."""
        return dict(self)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: str = Field(description="Glob on the source key (queue name, service, mailbox), case-insensitive.")
    task: str = Field(default=UNCLASSIFIED, pattern=TASK_PATTERN)
    department: str = Field(default="", max_length=NAME_MAX)
    inquiry_kind: InquiryKind = InquiryKind.unknown
    requester_type: RequesterType = RequesterType.unknown


class MappingRules(BaseModel):
    """All rules of one municipality. `sources` is keyed by rule set, e.g. 'phone_queue'."""

    model_config = ConfigDict(extra="forbid")

    municipality: str = Field(pattern=MUNICIPALITY_PATTERN)
    tasks: dict[str, Annotated[str, Field(max_length=NAME_MAX)]] = Field(
        default_factory=dict, description="KLE code -> readable label.")
    sources: dict[str, list[Rule]] = Field(default_factory=dict)
    _cache: dict[tuple[str, str], Classification] = PrivateAttr(default_factory=dict)

    def classify(self, rule_set: str, key: str) -> Classification:
        """First matching rule of `rule_set` wins; no match means unclassified.

        Answers are cached (a log names the same few queues and services over and over);
        the cache is emptied when full, so garbage keys in a broken log cannot grow memory.
        Parsers call this once per event: the cache is read from __pydantic_private__ directly,
        because `self._cache` goes through pydantic's __getattr__, which cost 20 times the
        dict lookup (1.5 us of the 10 us a line may take at 100,000 lines/s)."""
        cache = self.__pydantic_private__["_cache"]  # type: ignore[index]
        found = cache.get((rule_set, key))
        if found is None:
            if len(cache) >= _MAX_CACHED:
                cache.clear()
            found = cache[(rule_set, key)] = self._match(rule_set, key)
        return found

    def _match(self, rule_set: str, key: str) -> Classification:
        lowered = key.lower()
        for rule in self.sources.get(rule_set, ()):
            if fnmatch.fnmatchcase(lowered, rule.match.lower()):
                return Classification(
                    task=rule.task,
                    task_label=self.tasks.get(rule.task, "") if rule.task != UNCLASSIFIED else "Uklassificeret",
                    department=rule.department,
                    inquiry_kind=rule.inquiry_kind,
                    requester_type=rule.requester_type,
                )
        return Classification(task=UNCLASSIFIED, task_label="Uklassificeret")


@lru_cache(maxsize=16)
def _cached(path: Path, mtime: float) -> MappingRules:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read mapping rules {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping rules {path} are not valid YAML: {exc}") from exc
    try:
        rules = MappingRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"mapping rules {path}: {problems}") from exc
    unknown = {r.task for rs in rules.sources.values() for r in rs} - set(rules.tasks) - {UNCLASSIFIED}
    if unknown:
        raise MappingError(f"mapping rules {path}: tasks {sorted(unknown)} used in sources but missing under 'tasks'")
    return rules


def load_mapping(path: Path) -> MappingRules:
    """Load and validate mapping rules, naming the file and field on any problem."""
    path = Path(path).resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise MappingError(f"cannot read mapping rules {path}: {exc.strerror}") from exc
    return _cached(path, mtime)
