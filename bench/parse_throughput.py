"""Parse-and-normalise throughput of every connector on one core: lines/s, no Kafka.

Run from the repository root:  .venv/bin/python bench/parse_throughput.py [--lines 100000]

Each connector parses realistic lines (the simulator's logs for phone and walk-ins, the
sample files under tests/data for the others) repeated to --lines, one record at a time
exactly as the shared runtime calls it; the event count shows how much of the input
became events (housekeeping lines and skipped requests are cheaper). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from connectors.base import ConnectorContext, Location, RecordRejected, Skip  # noqa: E402
from connectors.channel_export import ChannelExportConfig  # noqa: E402
from connectors.exchange_tracking import ExchangeTrackingConfig  # noqa: E402
from connectors.mapping import load_mapping  # noqa: E402
from connectors.registry import get_kind  # noqa: E402
from connectors.web_access_log import WebAccessLogConfig  # noqa: E402
from pipeline.ground.privacy import ContactKeyer  # noqa: E402
from pipeline.simulated.municipality import simulate  # noqa: E402

DATA = ROOT / "tests" / "data"
DEPLOY_MAPPING = ROOT / "deploy" / "mapping.yaml"


def cases(logs: Path) -> list[tuple[str, str, object, Path, Path]]:
    """(row label, kind, config, mapping file, sample file): every connector, and each of the
    access log's two formats (they share nothing up to the request's fields)."""
    return [
        ("asterisk_queue_log", "asterisk_queue_log", None, DEPLOY_MAPPING, logs / "queue_log"),
        ("ticket_export", "ticket_export", None, DEPLOY_MAPPING, sorted(logs.glob("tickets-*.csv"))[0]),
        ("web_access_log (combined)", "web_access_log", WebAccessLogConfig(format="combined"),
         DATA / "web_mapping.yaml", DATA / "web_nginx_access.log"),
        ("web_access_log (json)", "web_access_log", WebAccessLogConfig(format="json"),
         DATA / "web_mapping.yaml", DATA / "web_nginx_access.jsonl"),
        ("exchange_tracking", "exchange_tracking",
         ExchangeTrackingConfig(shared_mailboxes=["borgerservice@aarhus.dk", "byggesag@aarhus.dk", "post@aarhus.dk"]),
         DATA / "exchange_mapping.yaml", DATA / "exchange_msgtrk_sample.log"),
        ("channel_export", "channel_export", ChannelExportConfig.komhen(), DATA / "channel_export_mapping.yaml",
         DATA / "channel_export_komhen_sample.csv"),
    ]


def measure(kind_name: str, config: object, mapping: Path, sample: Path, lines: int) -> tuple[float, int, int]:
    kind = get_kind(kind_name)
    context = ConnectorContext("751", load_mapping(mapping), ContactKeyer(b"bench-secret"))
    parser = kind.parser(config if config is not None else kind.config_model(), context)
    raw = sample.read_bytes().splitlines()
    header, body = raw[:1], raw[1:] if kind_name in ("ticket_export", "channel_export") else raw
    body = [line for line in body if line.strip()]
    records = (body * (lines // max(len(body), 1) + 1))[:lines]
    parser.start_file(str(sample), header[0] if header else None)
    events = 0
    started = time.perf_counter()
    for number, record in enumerate(records, start=2):
        try:
            result = parser.parse(record, Location(kind_name, str(sample), number, 0))
        except RecordRejected:
            continue
        if not isinstance(result, Skip):
            events += len(result)
    return time.perf_counter() - started, len(records), events


def main() -> int:
    parser = argparse.ArgumentParser(description="Parse throughput per connector, one core.")
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    console = Console()
    console.print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
                  f"command: {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        simulate(logs, days=1, seed=1, start=date(2026, 3, 24))
        table = Table("connector", "lines", "seconds", "lines/s", "events per line")
        for label, kind_name, config, mapping, sample in cases(logs):
            seconds, count, events = measure(kind_name, config, mapping, sample, args.lines)
            table.add_row(label, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", f"{events / count:.2f}")
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
