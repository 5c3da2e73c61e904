"""What every connector's tests need, written once: a context, a started parser, one record parsed
(every event it makes checked against InquiryEvent's validation), a rejection's reason, 1 MB lines
that must not stall, a file read line by line as the runtime feeds it, and a file read by the real
runtime into a RecordingSink.

A new connector's test module is built on these (tests/connectors/test_asterisk_cdr.py shows how);
its own helpers only add its defaults (system, file, line number) and its lines.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorContext, Location, Parser, ParseResult, RecordRejected, Skip
from connectors.checkpoints import Checkpoints
from connectors.config import ConnectorConfig
from connectors.mapping import load_mapping
from connectors.registry import KINDS
from connectors.runtime import ConnectorRunner
from pipeline.ground.privacy import ContactKeyer
from schemas import DeadLetter, InquiryEvent
from tests.connectors.adversarial import ADVERSARIAL, assert_no_stall
from tests.connectors.built_events import assert_as_validated

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
DEPLOY_MAPPING = ROOT / "deploy" / "mapping.yaml"
MUNICIPALITY = "751"
KEYER = ContactKeyer(b"test-secret")


@cache
def _context(mapping: Path, municipality: str, keyer: ContactKeyer) -> ConnectorContext:
    return ConnectorContext(municipality=municipality, mapping=load_mapping(mapping), keyer=keyer)


def context_of(mapping: Path = DEPLOY_MAPPING, *, municipality: str = MUNICIPALITY,
               keyer: ContactKeyer = KEYER) -> ConnectorContext:
    """What the runtime gives every parser: the municipality, a mapping file's rules and a keyer
    (by default deploy/mapping.yaml and a test secret)."""
    return _context(Path(mapping), municipality, keyer)


CONTEXT = context_of()


# --- one parser, one record ------------------------------------------------------------------------

# Where each parser built by parser_of reads: the default Location of parse() and the others.
_STARTED: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


def kind_of(config: ConnectorConfig) -> str:
    """The registered kind whose config model `config` is."""
    found = [name for name, kind in KINDS.items() if type(config) is kind.config_model]
    assert len(found) == 1, f"{type(config).__name__} is the config of {len(found)} registered kinds"
    return found[0]


def parser_of(kind_or_config: str | ConnectorConfig, context: ConnectorContext = CONTEXT, *,
              file: str = "/var/log/test.log", first_line: str | bytes | None = None) -> Parser:
    """A parser of a registered kind (with its default config) or of a config (its kind looked up
    in the registry, as `kanalpuls run` does), started on `file` with its first line."""
    if isinstance(kind_or_config, str):
        kind = KINDS[kind_or_config]
        config = kind.config_model()
    else:
        config, kind = kind_or_config, KINDS[kind_of(kind_or_config)]
    parser = kind.parser_class(config, context)
    assert parser.kind == kind.name
    parser.start_file(file, first_line.encode() if isinstance(first_line, str) else first_line)
    _STARTED[parser] = (config.system, file)
    return parser


def _where(parser: Parser, location: Location | None) -> Location:
    if location is not None:
        return location
    system, file = _STARTED[parser]  # a parser not made by parser_of needs its location given
    return Location(system, file, 1, 0)


def _as_bytes(record: str | bytes) -> bytes:
    return record.encode("utf-8", "surrogatepass") if isinstance(record, str) else record


def parse(parser: Parser, record: str | bytes, location: Location | None = None) -> ParseResult:
    """parser.parse of one record (default location: the parser's system and file, line 1):
    events or a Skip, every event exactly what InquiryEvent's validation makes of it."""
    result = parser.parse(_as_bytes(record), _where(parser, location))
    assert isinstance(result, Skip) or isinstance(result, list), result
    for event in result if isinstance(result, list) else ():
        assert_as_validated(event)
    return result


def events(parser: Parser, record: str | bytes, location: Location | None = None) -> list[InquiryEvent]:
    """The events of one record, which must make some (not a Skip)."""
    result = parse(parser, record, location)
    assert isinstance(result, list), result
    return result


def one_event(parser: Parser, record: str | bytes, location: Location | None = None) -> InquiryEvent:
    """The one event of a record that makes exactly one."""
    result = events(parser, record, location)
    assert len(result) == 1, result
    return result[0]


def rejection(parser: Parser, record: str | bytes, location: Location | None = None) -> str:
    """The reason a record is rejected for (it must be); the parser's redact() must take the record."""
    with pytest.raises(RecordRejected) as caught:
        parser.parse(_as_bytes(record), _where(parser, location))
    assert caught.value.reason
    redact = getattr(parser, "redact", None)
    if redact is not None:
        assert isinstance(redact(_as_bytes(record).decode("utf-8", "backslashreplace")), str)
    return caught.value.reason


def check_record(parser: Parser, record: str | bytes, location: Location | None = None) -> ParseResult | None:
    """What any input may make: events (each as validation makes it), a Skip, or a RecordRejected
    with a reason whose record redact() takes (None then). Anything else raised fails the test."""
    try:
        return parse(parser, record, location)
    except RecordRejected as exc:
        assert exc.reason
        redact = getattr(parser, "redact", None)
        if redact is not None:
            assert isinstance(redact(_as_bytes(record).decode("utf-8", "backslashreplace")), str)
        return None


def assert_no_line_stalls(parser: Parser, *texts: str, location: Location | None = None) -> None:
    """parse() and redact() answer each line (by default every 1 MB line of adversarial.py) within
    adversarial.STALL_SECONDS, raising nothing but RecordRejected; events made are as validated."""
    where = _where(parser, location)

    def parsed(record: bytes, at: Location) -> object:
        return parse(parser, record, at)

    for text in texts or tuple(ADVERSARIAL.values()):
        assert_no_stall(parsed, getattr(parser, "redact", lambda record: record), text, where)


# --- whole files -------------------------------------------------------------------------------------


def read_lines(parser: Parser, path: Path, system: str | None = None) -> list[ParseResult]:
    """Each line of `path` parsed as the runtime feeds it: the first line to start_file, then every
    line without its line ending (LF or CRLF) at its line number and byte offset, the final newline
    ending the last line, in `system` (default: the one parser_of started the parser in). Events
    are checked as parse() checks them; a rejection fails the test (use read_file to count them)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    parser.start_file(str(path), lines[0].removesuffix(b"\r") if lines else None)
    if system is None:
        system = _STARTED[parser][0]  # a parser not made by parser_of needs its system given
    offset, results = 0, []
    for number, line in enumerate(lines, start=1):
        results.append(parse(parser, line.removesuffix(b"\r"), Location(system, str(path), number, offset)))
        offset += len(line) + 1
    return results


class RecordingSink:
    """An EventSink that keeps what it is given, in order (stands where Kafka would) and confirms
    every flush on the spot."""

    shows_rejections = False

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[InquiryEvent]]] = []
        self.dead_letters: list[DeadLetter] = []
        self.flushes = 0

    async def send_batch(self, key: str, events: list[InquiryEvent]) -> None:
        assert all(event.partition_key == key for event in events)
        self.batches.append((key, list(events)))

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)

    async def flush(self) -> None:
        self.flushes += 1  # None: the runtime takes the flush as confirmed

    @property
    def events(self) -> list[InquiryEvent]:
        return [event for _, batch in self.batches for event in batch]


async def read_file(kind_or_config: str | ConnectorConfig, paths: Path | Iterable[Path], *,
                    context: ConnectorContext = CONTEXT, system: str | None = None,
                    checkpoints: Checkpoints | None = None) -> tuple[RecordingSink, Any]:
    """Run the real runtime (connectors/runtime.py) over the files with a parser of the kind or
    config: the sink it filled and the run's stats. `system` defaults to the config's; every event
    sent is checked against InquiryEvent's validation."""
    config = KINDS[kind_or_config].config_model() if isinstance(kind_or_config, str) else kind_or_config
    parser = KINDS[kind_of(config)].parser_class(config, context)
    sink = RecordingSink()
    runner = ConnectorRunner(parser, system if system is not None else config.system, sink, checkpoints,
                             settle_seconds=0.0)
    stats = await runner.run([paths] if isinstance(paths, Path) else list(paths))
    for event in sink.events:
        assert_as_validated(event)
    return sink, stats
