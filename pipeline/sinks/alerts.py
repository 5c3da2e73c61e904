"""The alert writer: the spike detector's alerts into walk_in_alerts, before they are produced."""

from __future__ import annotations

import pyarrow as pa

from pipeline.store.serial import SerialStore
from schemas.alert import SpikeAlert

ALERTS_TABLE = "walk_in_alerts"


_TS = pa.timestamp("ms", tz="UTC")


ALERT_COLUMNS = pa.schema([
    ("alert_id", pa.string()), ("status", pa.string()), ("municipality", pa.string()), ("site", pa.string()),
    ("count", pa.uint32()), ("peak_count", pa.uint32()), ("expected", pa.float64()), ("ratio", pa.float64()),
    ("window_minutes", pa.uint16()), ("window_start", _TS), ("window_end", _TS), ("threshold_ratio", pa.float64()),
    ("min_count", pa.uint32()), ("baseline_weeks", pa.uint8()), ("baseline_weeks_used", pa.uint8()),
    ("fired_at", _TS), ("resolved_at", _TS), ("emitted_at", _TS),
])


class AlertWriter:
    """Stores alerts in walk_in_alerts; the same alert written twice is stored once (insert token)."""

    def __init__(self, shared: SerialStore) -> None:
        self.shared = shared

    async def write(self, alerts: list[SpikeAlert]) -> None:
        if not alerts:
            return
        rows = [a.model_dump(exclude={"schema_version", "kind"}) for a in alerts]
        token = "alerts:" + ",".join(f"{a.alert_id}/{a.status}/{a.emitted_at.timestamp()}" for a in alerts)
        await self.shared.retrying(self.shared.store.insert_arrow, ALERTS_TABLE,
                                   pa.Table.from_pylist(rows, ALERT_COLUMNS), token)
