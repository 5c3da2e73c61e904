"""The shared connector loop: reading plain and gzip files, following, checkpoints, batching, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.asterisk_queue_log import AsteriskQueueLogConfig, AsteriskQueueLogParser
from connectors.base import ConnectorContext
from connectors.checkpoints import Checkpoints
from connectors.files import iter_records, open_log
from connectors.mapping import load_mapping
from connectors.registry import KINDS
from connectors.runtime import ConnectorRunner, Unconfirmed
from pipeline.ground.privacy import ContactKeyer
from pipeline.sinks.dry_run import DryRunSink
from schemas import InquiryEvent
from schemas.wire import encode_batch
from tests.connectors.harness import RecordingSink

MAPPING = Path(__file__).resolve().parents[2] / "deploy" / "mapping.yaml"


def call_lines(first: int, count: int, queue: str = "pas") -> list[str]:
    """ENTERQUEUE + CONNECT + COMPLETECALLER for `count` calls: 3 events each."""
    lines = []
    for i in range(first, first + count):
        epoch = 1763971200 + i * 10
        uid = f"{epoch}.{i}"
        lines += [
            f"{epoch}|{uid}|{queue}|NONE|ENTERQUEUE||2{i:07d}|1",
            f"{epoch + 5}|{uid}|{queue}|SIP/2001|CONNECT|5|{uid}9|2",
            f"{epoch + 65}|{uid}|{queue}|SIP/2001|COMPLETECALLER|5|60|1",
        ]
    return lines




def runner(sink: RecordingSink, checkpoints: Checkpoints | None = None, batch_events: int = 500,
           settle_seconds: float = 0.0) -> ConnectorRunner:
    context = ConnectorContext("751", load_mapping(MAPPING), ContactKeyer(b"test-secret"))
    parser = AsteriskQueueLogParser(AsteriskQueueLogConfig(), context)
    return ConnectorRunner(parser, "asterisk", sink, checkpoints, batch_events=batch_events,
                           linger_seconds=0.05, poll_seconds=0.02, settle_seconds=settle_seconds)


def write(path: Path, lines: list[str], newline_at_end: bool = True) -> Path:
    text = "\n".join(lines) + ("\n" if newline_at_end else "")
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_records_carry_line_numbers_and_byte_offsets() -> None:
    records = list(iter_records(io.BytesIO(b"a\nbb\r\nccc\n"), 0, 0, final=True))
    assert [(r.data, r.line, r.offset, r.end) for r in records] == [
        (b"a", 1, 0, 2), (b"bb", 2, 2, 6), (b"ccc", 3, 6, 10)]


def test_last_line_without_newline_is_read_only_when_the_file_is_final() -> None:
    assert [r.data for r in iter_records(io.BytesIO(b"a\nhalf"), 0, 0, final=True)] == [b"a", b"half"]
    assert [r.data for r in iter_records(io.BytesIO(b"a\nhalf"), 0, 0, final=False)] == [b"a"]


def test_gzip_files_are_read_like_plain_ones(tmp_path: Path) -> None:
    lines = call_lines(0, 3)
    plain, packed = write(tmp_path / "queue_log", lines), write(tmp_path / "queue_log.1.gz", lines)
    with open_log(plain) as a, open_log(packed) as b:
        assert list(iter_records(a, 0, 0, True)) == list(iter_records(b, 0, 0, True))


async def test_every_line_becomes_events_batched_by_key(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 40) + call_lines(40, 40, queue="jobcenter"))
    sink = RecordingSink()
    stats = await runner(sink, batch_events=50).run([log])
    assert stats.records == 240 and stats.events == 240 and stats.rejected == 0
    assert len(sink.events) == 240 and len({e.event_id for e in sink.events}) == 240
    for key, batch in sink.batches:
        assert len(batch) <= 50
        assert {e.partition_key for e in batch} == {key}
    assert {key for key, _ in sink.batches} == {"751/phone/85.06.00", "751/phone/23.02.00"}


async def test_bad_lines_become_dead_letters_with_file_line_reason_and_the_connector_goes_on(tmp_path: Path) -> None:
    lines = call_lines(0, 2) + ["1763971200|abc", "", "17x3971200|1.2|pas|NONE|ENTERQUEUE||22334455|1",
                                "1763971300|9.9|pas|NONE|FROBNICATE|x"] + call_lines(2, 2)
    log = tmp_path / "queue_log"
    log.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken\n" + b"1763971400|9.8|pas|NONE|ENTERQUEUE||+4522334455")
    sink = RecordingSink()
    stats = await runner(sink).run([log])
    assert stats.events == 12 + 1  # four calls and the final ENTERQUEUE without newline
    assert stats.rejected == 3  # a blank line and an unknown event are skips, not errors
    assert stats.skipped == {"blank line": 1, "unknown event FROBNICATE": 1}
    located = {(Path(d.source.file).name, d.source.line): d.reason for d in sink.dead_letters}
    assert set(located) == {("queue_log", n) for n in (7, 9, 17)}
    assert "invalid UTF-8" in located[("queue_log", 17)]
    assert all("22334455" not in d.raw for d in sink.dead_letters)


async def test_checkpoint_resumes_after_the_last_acknowledged_line(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 10))
    checkpoints = Checkpoints(tmp_path / "cp.json")
    first = RecordingSink()
    await runner(first, checkpoints).run([log])
    assert len(first.events) == 30
    saved = json.loads((tmp_path / "cp.json").read_text())["files"][str(log)]
    assert saved["offset"] == log.stat().st_size and saved["line"] == 30

    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n".join(call_lines(10, 2)) + "\n")
    second = RecordingSink()
    await runner(second, Checkpoints(tmp_path / "cp.json")).run([log])
    assert len(second.events) == 6
    assert {e.source.line for e in second.events} == set(range(31, 37))


async def test_a_new_file_under_the_same_name_is_read_from_the_start(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 5))
    checkpoints = Checkpoints(tmp_path / "cp.json")
    await runner(RecordingSink(), checkpoints).run([log])
    log.rename(tmp_path / "queue_log.old")
    write(tmp_path / "queue_log", call_lines(5, 2))  # new inode
    sink = RecordingSink()
    await runner(sink, Checkpoints(tmp_path / "cp.json")).run([tmp_path / "queue_log"])
    assert len(sink.events) == 6


async def test_follow_reads_lines_appended_later_and_waits_for_a_line_to_be_complete(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 1))
    sink = RecordingSink()
    stop = asyncio.Event()
    task = asyncio.create_task(runner(sink).run([log], follow=True, stop=stop))

    async def events_reach(n: int) -> None:
        for _ in range(200):
            if len(sink.events) >= n:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"only {len(sink.events)} events, expected {n}")

    await events_reach(3)
    appended = call_lines(1, 1)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(appended[0] + "\n" + appended[1][:10])  # the second line is still being written
        fh.flush()
        await events_reach(4)
        await asyncio.sleep(0.1)
        assert len(sink.events) == 4
        fh.write(appended[1][10:] + "\n" + appended[2] + "\n")
    await events_reach(6)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [e.stage.value for e in sink.events[3:]] == ["arrived", "answered", "closed"]


async def test_dry_run_prints_events_to_stdout_and_rejections_to_stderr(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 1) + ["garbage"])
    out, err = io.StringIO(), io.StringIO()
    await runner(DryRunSink(out, err)).run([log])  # type: ignore[arg-type]
    events = [InquiryEvent.model_validate_json(line) for line in out.getvalue().splitlines()]
    assert [e.stage.value for e in events] == ["arrived", "answered", "closed"]
    assert err.getvalue().startswith(f"{log}:4: ")


def test_wire_batch_is_one_event_per_line() -> None:
    context = ConnectorContext("751", load_mapping(MAPPING), ContactKeyer(b"k"))
    parser = AsteriskQueueLogParser(AsteriskQueueLogConfig(), context)
    from connectors.base import Location

    events = [e for i, line in enumerate(call_lines(0, 2)) for e in parser.parse(line.encode(), Location("a", "f", i + 1, 0))]
    lines = encode_batch(events).split(b"\n")
    assert [InquiryEvent.model_validate_json(line) for line in lines] == events


async def test_a_line_still_being_written_is_left_for_the_next_run(tmp_path: Path) -> None:
    lines = call_lines(0, 1)
    log = tmp_path / "queue_log"
    log.write_text("\n".join(lines[:2]) + "\n" + lines[2][:-3])  # the writer is mid-line
    checkpoints = Checkpoints(tmp_path / "cp.json")
    first = RecordingSink()
    stats = await runner(first, checkpoints, settle_seconds=60).run([log])
    assert [e.stage.value for e in first.events] == ["arrived", "answered"] and stats.rejected == 0

    with open(log, "a", encoding="utf-8") as fh:
        fh.write(lines[2][-3:] + "\n")
    second = RecordingSink()
    await runner(second, Checkpoints(tmp_path / "cp.json"), settle_seconds=60).run([log])
    assert [(e.stage.value, e.handle_seconds) for e in second.events] == [("closed", 60.0)]


async def test_a_file_truncated_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 5))
    await runner(RecordingSink(), Checkpoints(tmp_path / "cp.json")).run([log])
    inode = log.stat().st_ino
    with open(log, "r+", encoding="utf-8") as fh:  # copytruncate, then new lines: same inode
        fh.truncate(0)
        fh.write("\n".join(call_lines(100, 7)) + "\n")
    assert log.stat().st_ino == inode and log.stat().st_size > 0
    sink = RecordingSink()
    await runner(sink, Checkpoints(tmp_path / "cp.json")).run([log])
    assert len(sink.events) == 21


async def test_a_replaced_file_with_the_same_inode_and_a_larger_size_is_read_from_the_start(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    await runner(RecordingSink(), Checkpoints(tmp_path / "cp.json")).run([log])
    with open(log, "r+", encoding="utf-8") as fh:  # same inode, different content, longer
        fh.write("\n".join(call_lines(200, 4)) + "\n")
    sink = RecordingSink()
    await runner(sink, Checkpoints(tmp_path / "cp.json")).run([log])
    assert len(sink.events) == 12


async def test_a_rejected_enterqueue_line_is_dead_lettered_without_its_caller(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", ["17x3971200|1763971200.7|pas|NONE|ENTERQUEUE||Hans Hansen <22334455>|1"])
    sink = RecordingSink()
    await runner(sink).run([log])
    (letter,) = sink.dead_letters
    assert "Hans" not in letter.raw and "22334455" not in letter.raw
    assert letter.raw.startswith("17x3971200|1763971200.7|pas|NONE|ENTERQUEUE|")


async def _until(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(300):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def following(log: Path, tmp_path: Path, first: int) -> AsyncIterator[RecordingSink]:
    """A connector following `log` (checkpointed), once it has read the first `first` events;
    stopped, and waited for, on the way out."""
    sink = RecordingSink()
    stop = asyncio.Event()
    task = asyncio.create_task(runner(sink, Checkpoints(tmp_path / "cp.json")).run([log], follow=True, stop=stop))
    await _until(lambda: len(sink.events) == first, "the first lines")
    yield sink
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_follow_survives_rename_and_create_rotation(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    async with following(log, tmp_path, 6) as sink:
        log.rename(tmp_path / "queue_log.1")
        with open(tmp_path / "queue_log.1", "a", encoding="utf-8") as old:  # the writer had not reopened yet
            old.write("\n".join(call_lines(2, 1)) + "\n")
        write(tmp_path / "queue_log", call_lines(3, 2))
        await _until(lambda: len(sink.events) == 15, "lines of the old and the new file")
    assert len({e.event_id for e in sink.events}) == 15


async def test_follow_survives_copytruncate_rotation(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 3))
    sink = RecordingSink()
    stop = asyncio.Event()
    task = asyncio.create_task(runner(sink).run([log], follow=True, stop=stop))
    await _until(lambda: len(sink.events) == 9, "the first lines")
    (tmp_path / "queue_log.1").write_bytes(log.read_bytes())  # copy ...
    with open(log, "r+", encoding="utf-8") as fh:  # ... then truncate, and the writer goes on
        fh.truncate(0)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n".join(call_lines(3, 1)) + "\n")
    await _until(lambda: len(sink.events) == 12, "lines written after the truncation")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [e.source.line for e in sink.events[9:]] == [1, 2, 3]


class _ParserThatBuildsABadEvent:
    """A parser with a bug: it lets through a municipality code the model refuses."""

    kind = "buggy"

    def start_file(self, path: str, first_line: bytes | None) -> None:
        pass

    def parse(self, record: bytes, location):  # type: ignore[no-untyped-def]
        from datetime import datetime, timezone

        from schemas import make_event_id

        return [InquiryEvent(event_id=make_event_id("x", record.decode(), "arrived"), occurred_at=datetime.now(timezone.utc),
                             municipality=record.decode(), channel="phone", stage="arrived", source=location.source_ref())]


async def test_an_event_the_model_refuses_is_dead_lettered_and_reading_goes_on(tmp_path: Path) -> None:
    log = write(tmp_path / "log", ["7510", "751"])
    sink = RecordingSink()
    stats = await ConnectorRunner(_ParserThatBuildsABadEvent(), "x", sink, None, settle_seconds=0).run([log])  # type: ignore[arg-type]
    assert stats.rejected == 1 and [e.municipality for e in sink.events] == ["751"]
    assert "makes an invalid event: municipality" in sink.dead_letters[0].reason


# --- rotation while the connector is down ---------------------------------------------


async def _read_then_die_while_the_writer_goes_on(log: Path, checkpoints_path: Path) -> RecordingSink:
    """The connector reads and checkpoints the first 10 calls, then is down while 10 more are written."""
    write(log, call_lines(0, 10))
    sink = RecordingSink()
    await runner(sink, Checkpoints(checkpoints_path)).run([log])
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n".join(call_lines(10, 10)) + "\n")
    return sink


def _saved_line(checkpoints_path: Path) -> int:
    return next(iter(json.loads(checkpoints_path.read_text())["files"].values()))["line"]


def _rename_rotate(log: Path, rotated: Path, compress: bool) -> Path:
    log.rename(rotated)
    if compress:  # logrotate's `compress`: the rotated file becomes file.1.gz, a new inode
        packed = rotated.with_name(rotated.name + ".gz")
        with open(rotated, "rb") as src, gzip.open(packed, "wb") as dst:
            dst.write(src.read())
        rotated.unlink()
        return packed
    return rotated


async def _resume(log: Path, checkpoints_path: Path, files: list[Path] | None = None) -> RecordingSink:
    sink = RecordingSink()
    await runner(sink, Checkpoints(checkpoints_path)).run(files or [log])
    return sink


async def test_a_file_renamed_while_the_connector_was_down_is_finished_from_its_checkpoint(tmp_path: Path) -> None:
    log, cp = tmp_path / "queue_log", tmp_path / "cp.json"
    before = await _read_then_die_while_the_writer_goes_on(log, cp)
    _rename_rotate(log, tmp_path / "queue_log.1", compress=False)
    write(log, call_lines(20, 5))

    after = await _resume(log, cp)

    ids = [e.event_id for e in before.events] + [e.event_id for e in after.events]
    assert len(set(ids)) == 75  # every call of both files
    assert len(after.events) == 75 - 30  # nothing read twice


async def test_a_file_rotated_and_compressed_while_down_is_finished_from_the_gz(tmp_path: Path) -> None:
    log, cp = tmp_path / "queue_log", tmp_path / "cp.json"
    before = await _read_then_die_while_the_writer_goes_on(log, cp)
    saved = _saved_line(cp)
    packed = _rename_rotate(log, tmp_path / "queue_log.1", compress=True)
    write(log, call_lines(20, 5))

    after = await _resume(log, cp)

    assert {e.source.file for e in after.events} == {str(packed), str(log)}
    assert len(after.events) == 75 - saved
    assert len({e.event_id for e in before.events + after.events}) == 75


async def test_rotated_files_named_on_the_command_line_are_resumed_not_reread(tmp_path: Path) -> None:
    log, cp = tmp_path / "queue_log", tmp_path / "cp.json"
    before = await _read_then_die_while_the_writer_goes_on(log, cp)
    saved = _saved_line(cp)
    packed = _rename_rotate(log, tmp_path / "queue_log.1", compress=True)
    write(log, call_lines(20, 5))

    # `kanalpuls ingest asterisk queue_log*`: the shell sorts the live file first; reading goes oldest first.
    after = await _resume(log, cp, files=[log, packed])

    assert [e.source.file for e in after.events][0] == str(packed)
    assert len(after.events) == 75 - saved
    assert len({e.event_id for e in before.events + after.events}) == 75


async def test_copytruncate_while_the_connector_was_down_finishes_the_copy(tmp_path: Path) -> None:
    log, cp = tmp_path / "queue_log", tmp_path / "cp.json"
    before = await _read_then_die_while_the_writer_goes_on(log, cp)
    saved = _saved_line(cp)
    (tmp_path / "queue_log.1").write_bytes(log.read_bytes())
    with open(log, "r+", encoding="utf-8") as fh:
        fh.truncate(0)
    write(log, call_lines(20, 30))  # the new content is longer than what had been read

    after = await _resume(log, cp)

    assert len(after.events) == 60 - saved + 90
    assert len({e.event_id for e in before.events + after.events}) == 150


async def test_follow_notices_copytruncate_even_when_the_file_regrew_past_the_read_position(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    sink = RecordingSink()
    stop = asyncio.Event()
    slow = runner(sink)
    slow.poll_seconds = 0.3
    task = asyncio.create_task(slow.run([log], follow=True, stop=stop))
    await _until(lambda: len(sink.events) == 6, "the first lines")
    (tmp_path / "queue_log.1").write_bytes(log.read_bytes())
    with open(log, "r+", encoding="utf-8") as fh:  # truncate and write more than before, between two polls
        fh.truncate(0)
        fh.write("\n".join(call_lines(10, 5)) + "\n")
    await _until(lambda: len(sink.events) == 21, "every line of the rewritten file")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len({e.event_id for e in sink.events}) == 21


async def test_lines_written_just_before_a_copytruncate_are_read_from_the_copy(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    sink = RecordingSink()
    stop = asyncio.Event()
    slow = runner(sink, Checkpoints(tmp_path / "cp.json"))
    slow.poll_seconds = 0.3
    task = asyncio.create_task(slow.run([log], follow=True, stop=stop))
    await _until(lambda: len(sink.events) == 6, "the first lines")
    with open(log, "a", encoding="utf-8") as fh:  # written, then copied and truncated before the next poll
        fh.write("\n".join(call_lines(2, 2)) + "\n")
    (tmp_path / "queue_log.1").write_bytes(log.read_bytes())
    with open(log, "r+", encoding="utf-8") as fh:
        fh.truncate(0)
    await asyncio.sleep(0.4)
    write(log, call_lines(4, 1))
    await _until(lambda: len(sink.events) == 15, "the copied lines and the new one")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len({e.event_id for e in sink.events}) == 15
    assert {e.source.file for e in sink.events[6:12]} == {str(tmp_path / "queue_log.1")}


async def test_a_followed_connector_moves_on_to_a_new_file_matching_its_pattern(tmp_path: Path) -> None:
    first = write(tmp_path / "export-1.log", call_lines(0, 2))
    sink = RecordingSink()
    stop = asyncio.Event()
    watcher = runner(sink, Checkpoints(tmp_path / "cp.json"))
    watcher.discover_seconds = 0.05
    task = asyncio.create_task(watcher.run([first], follow=True, stop=stop,
                                           discover=lambda: sorted(tmp_path.glob("export-*.log"))))
    await _until(lambda: len(sink.events) == 6, "the first file")
    copy = tmp_path / "export-0.log"  # an older file showing up (a restored copy): not taken
    write(copy, call_lines(50, 1))
    os.utime(copy, (first.stat().st_mtime - 60, first.stat().st_mtime - 60))
    with open(first, "a", encoding="utf-8") as fh:  # the last lines of yesterday's export ...
        fh.write("\n".join(call_lines(2, 1)) + "\n")
    await asyncio.sleep(0.01)
    second = write(tmp_path / "export-2.log", call_lines(3, 1))  # ... then today's file appears
    await _until(lambda: len(sink.events) == 12, "yesterday's last lines and today's file")
    with open(second, "a", encoding="utf-8") as fh:  # today's file is followed now
        fh.write("\n".join(call_lines(4, 1)) + "\n")
    await _until(lambda: len(sink.events) == 15, "a line appended to today's file")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert {e.source.file for e in sink.events} == {str(first), str(second)}


# Every file connector, fed arbitrary lines through the shared loop: nothing raises, every
# line is an event source, a skip or a dead letter, and each dead letter names its file,
# line and reason. (The parsers' own hypothesis tests feed them records one at a time.)
_ANY_LINE = st.one_of(
    st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")),
    st.lists(st.sampled_from(["", "1763971200", "pas", "ENTERQUEUE", "2026-11-23 09:00:00", "POST", "DELIVER",
                              "borgerservice@kommune.dk", "\"", "{", "}", "ø", "-", "200"]), max_size=10)
    .map(lambda parts: ";|, ".join(parts).encode()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind_name=st.sampled_from([k.name for k in KINDS.values() if k.traits.takes_paths]),
       lines=st.lists(_ANY_LINE, min_size=1, max_size=8))
def test_arbitrary_lines_through_the_runtime_become_events_skips_or_dead_letters_with_reasons(
    tmp_path_factory: pytest.TempPathFactory, kind_name: str, lines: list[bytes]
) -> None:
    kind = KINDS[kind_name]
    log = tmp_path_factory.mktemp("fuzz") / "input.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    context = ConnectorContext("751", load_mapping(MAPPING), ContactKeyer(b"test-secret"))
    sink = RecordingSink()
    loop = ConnectorRunner(kind.parser(kind.config_model(), context), "fuzz", sink, None, settle_seconds=0.0)
    stats = asyncio.run(loop.run([log]))
    assert stats.records == len(lines)
    assert stats.rejected == len(sink.dead_letters)
    assert stats.records >= stats.rejected + sum(stats.skipped.values())
    for letter in sink.dead_letters:
        assert letter.reason and letter.connector == kind.name
        assert letter.source.file == str(log) and 1 <= letter.source.line <= len(lines)


# --------------------------------------------------------------------------- per-file faults, bounds


async def test_follow_survives_a_rename_written_on_before_the_new_file_exists(tmp_path: Path) -> None:
    """The checkpoint of lines read from the renamed file used to open the file by its old name,
    which named nothing yet: the connector crashed."""
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    async with following(log, tmp_path, 6) as sink:
        log.rename(tmp_path / "queue_log.1")
        with open(tmp_path / "queue_log.1", "a", encoding="utf-8") as old:
            old.write("\n".join(call_lines(2, 1)) + "\n")
        await _until(lambda: len(sink.events) == 9, "the lines written after the rename")
        await asyncio.sleep(0.2)
        write(tmp_path / "queue_log", call_lines(3, 2))
        await _until(lambda: len(sink.events) == 15, "the file created anew")
    assert len({e.event_id for e in sink.events}) == 15


async def test_follow_survives_a_followed_file_deleted_and_created_anew(tmp_path: Path) -> None:
    log = write(tmp_path / "queue_log", call_lines(0, 2))
    async with following(log, tmp_path, 6) as sink:
        log.unlink()
        await asyncio.sleep(0.3)
        write(tmp_path / "queue_log", call_lines(2, 2))
        await _until(lambda: len(sink.events) == 12, "the new file")
    assert len({e.event_id for e in sink.events}) == 12


async def test_a_truncated_gzip_is_one_dead_letter_naming_it_and_the_other_files_are_read(tmp_path: Path) -> None:
    whole = write(tmp_path / "queue_log-1.gz", call_lines(0, 200))
    broken = tmp_path / "queue_log-2.gz"
    broken.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])  # cut off mid-stream
    good = write(tmp_path / "queue_log", call_lines(500, 2))
    sink = RecordingSink()
    stats = await runner(sink, Checkpoints(tmp_path / "cp.json")).run([broken, good])
    assert stats.failed_files == {str(broken)}
    (letter,) = [d for d in sink.dead_letters if d.source.file == str(broken)]
    assert "compressed data ends early" in letter.reason and "read" in letter.reason
    assert {e.source.file for e in sink.events} == {str(broken), str(good)}  # what came before the cut counts
    assert sum(e.source.file == str(good) for e in sink.events) == 6


async def test_an_unreadable_or_vanished_file_is_reported_and_the_others_are_read(tmp_path: Path) -> None:
    directory = tmp_path / "not_a_file"
    directory.mkdir()
    gone = tmp_path / "gone"
    good = write(tmp_path / "queue_log", call_lines(0, 2))
    sink = RecordingSink()
    stats = await runner(sink, Checkpoints(tmp_path / "cp.json")).run([directory, gone, good])
    assert len(sink.events) == 6
    assert str(directory) in stats.failed_files
    assert any(d.source.file == str(directory) for d in sink.dead_letters)


async def test_a_line_over_the_limit_is_dead_lettered_with_its_size_and_never_parsed(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    lines = call_lines(0, 1)
    huge = "1763971200|x|pas|NONE|ENTERQUEUE||" + "9" * 3_000_000 + "|1"
    log.write_text("\n".join([lines[0], huge, *lines[1:]]) + "\n", encoding="utf-8")
    sink = RecordingSink()
    run = runner(sink, Checkpoints(tmp_path / "cp.json"))
    run.max_record_bytes = 64 * 1024
    stats = await run.run([log])
    assert stats.rejected == 1 and len(sink.events) == 3
    (letter,) = sink.dead_letters
    assert letter.source.line == 2 and "3,000,036 bytes" in letter.reason and len(letter.raw) <= 4096
    assert "9999999999" not in letter.raw  # the head kept is masked like any record


def test_records_of_a_line_longer_than_the_bound_are_cut_with_their_whole_size() -> None:
    data = b"a\n" + b"x" * 100 + b"\nb\n" + b"y" * 50
    records = list(iter_records(io.BytesIO(data), 0, 0, final=True, max_bytes=10))
    assert [(r.line, r.size, r.data[:3]) for r in records] == [(1, -1, b"a"), (2, 100, b"xxx"), (3, -1, b"b"),
                                                                (4, 50, b"yyy")]
    assert [r.end for r in records] == [2, 103, 105, 155]


def test_a_line_longer_than_the_bound_still_being_written_waits_for_its_end() -> None:
    records = list(iter_records(io.BytesIO(b"a\n" + b"x" * 100), 0, 0, final=False, max_bytes=10))
    assert [r.line for r in records] == [1]


async def test_an_unconfirmed_step_is_sent_again_from_the_last_confirmed_checkpoint(tmp_path: Path) -> None:
    """A broker that lost what it had acknowledged: nothing comes back confirmed, so the step is
    read and sent again; the checkpoint never moves past what was not confirmed."""

    class ForgetfulSink(RecordingSink):
        def __init__(self) -> None:
            super().__init__()
            self.attempts = 0

        async def flush(self) -> asyncio.Future[None]:
            self.attempts += 1
            receipt: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self.attempts > 1:  # the first flush is lost with the broker; the second is stored
                receipt.set_result(None)
            return receipt

    log = write(tmp_path / "queue_log", call_lines(0, 2))
    sink = ForgetfulSink()
    checkpoints = Checkpoints(tmp_path / "cp.json")
    run = runner(sink, checkpoints)
    run.confirm_seconds = 0.3
    stats = await run.run([log])
    assert stats.resends == 1 and stats.events == 6 and stats.records == 6  # counted once, when confirmed
    assert len(sink.events) == 12 and len({e.event_id for e in sink.events}) == 6  # sent twice, same ids
    assert Checkpoints(tmp_path / "cp.json").positions[str(log)].offset == log.stat().st_size


async def test_a_run_gives_up_when_nothing_is_ever_confirmed_and_keeps_its_checkpoint(tmp_path: Path) -> None:
    class Unanswered(RecordingSink):
        async def flush(self) -> asyncio.Future[None]:
            return asyncio.get_running_loop().create_future()

    log = write(tmp_path / "queue_log", call_lines(0, 2))
    run = runner(Unanswered(), Checkpoints(tmp_path / "cp.json"))
    run.confirm_seconds, run.resend_attempts = 0.2, 1
    with pytest.raises(Unconfirmed, match="not confirmed stored"):
        with patch_sleep():
            await run.run([log])
    assert str(log) not in Checkpoints(tmp_path / "cp.json").positions


def patch_sleep():  # type: ignore[no-untyped-def]
    """The resend pause, shortened: the test is about what is resent, not how long it waits."""
    from unittest import mock

    import connectors.runtime as runtime

    async def short(stop, seconds):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.01)

    return mock.patch.object(runtime, "_sleep_unless", short)


async def test_a_worker_behind_but_confirming_is_waited_for_not_flooded_with_resends(tmp_path: Path) -> None:
    """Each step is confirmed 0.15 s after the one before (a worker catching up): the tenth
    waits far longer than confirm_seconds, yet nothing is sent twice."""

    class SlowWorker(RecordingSink):
        def __init__(self) -> None:
            super().__init__()
            self.next_at = 0.0

        async def flush(self) -> asyncio.Future[None]:
            loop = asyncio.get_running_loop()
            receipt: asyncio.Future[None] = loop.create_future()
            self.next_at = max(self.next_at, loop.time()) + 0.15
            loop.call_at(self.next_at, receipt.set_result, None)
            return receipt

    files = [write(tmp_path / f"queue_log-{n}", call_lines(n * 10, 1)) for n in range(10)]
    sink = SlowWorker()
    run = runner(sink, Checkpoints(tmp_path / "cp.json"))
    run.confirm_seconds = 0.5
    stats = await run.run(files)
    assert stats.resends == 0 and len(sink.events) == 30 == stats.events


def test_state_directories_are_private_to_their_owner(tmp_path: Path) -> None:
    """Checkpoints name the files read, the embedded store holds every event: var/ and below
    are 0700, made so or tightened (files under var/ were world-readable)."""
    import stat

    from pipeline.ground.directories import private_directory

    made = private_directory(tmp_path / "var" / "checkpoints")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700  # the parent it made, too
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    private_directory(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


async def test_personal_data_in_a_name_the_source_gives_never_leaves_the_connector(tmp_path: Path) -> None:
    """A queue named with a CPR number and an e-mail address reached ClickHouse verbatim (the
    attack review); the HTTP ingest masked the same fields, the connectors did not."""
    log = tmp_path / "queue_log"
    log.write_text("1764000000|call1|borger 010190-1234 anna@example.dk|NONE|ENTERQUEUE||12345678|1\n")
    sink = RecordingSink()
    await runner(sink).run([log])
    (event,) = sink.events
    assert event.queue == "borger <cpr> <email>"
    assert "010190" not in event.model_dump_json() and "anna" not in event.model_dump_json()


async def test_a_fifo_named_as_a_log_is_reported_not_read_for_ever(tmp_path: Path) -> None:
    fifo = tmp_path / "queue_log.fifo"
    os.mkfifo(fifo)
    good = write(tmp_path / "queue_log", call_lines(0, 1))
    sink = RecordingSink()
    stats = await asyncio.wait_for(runner(sink).run([fifo, good]), 10)
    assert str(fifo) in stats.failed_files and len(sink.events) == 3


async def test_a_stop_during_a_read_ends_it_at_a_confirmed_checkpoint_and_the_next_run_resumes(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM on `kanalpuls ingest` without --follow: the read ends at the next flush
    with what it sent confirmed and checkpointed, instead of reading on to the end of the file."""
    log = write(tmp_path / "queue_log", call_lines(0, 3000))
    checkpoints = tmp_path / "checkpoints.json"
    stop = asyncio.Event()

    class StoppedAfterAFlush(RecordingSink):
        async def flush(self) -> None:
            await super().flush()
            stop.set()  # as the signal handler does, while the file is being read

    first = StoppedAfterAFlush()
    reader = runner(first, Checkpoints(checkpoints), batch_events=50)
    reader.linger_seconds = 0.0  # flush after every record
    stopped = await reader.run([log], stop=stop)
    assert 0 < stopped.records < 9000
    again = RecordingSink()
    rest = await runner(again, Checkpoints(checkpoints)).run([log])
    assert stopped.records + rest.records == 9000
    assert len({e.event_id for e in first.events} | {e.event_id for e in again.events}) == 9000
