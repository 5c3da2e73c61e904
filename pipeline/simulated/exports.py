"""Case-system exports for channel_export: a daily KOMHEN CSV of letters and Digital Post, and a chat export.

Letters are scanned in the morning of open days, Digital Post arrives at any hour, outbound
post leaves in office hours; chat is open on open days from 9 to 15. Requester CPR numbers,
names, phone numbers and e-mail addresses are planted.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, time

from pipeline.simulated.calendar import local_epoch, poisson_times
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import SourceTally
from pipeline.simulated.world import CHAT_HOURS, EMAIL_HOUR_DEMAND, OFFICE_HOURS, World, local_time

CASE_SYSTEM, CHAT_SYSTEM = "sbsys", "chat"
CHAT_FILE = "exports/chat.jsonl"
KOMHEN_HEADER = (
    "id", "occurred_at", "channel", "direction", "task", "department", "requester_type", "resolved_first_contact",
    "visited_web_first", "requester_id",
)
# (task column, department column, requester type, share). A row with a KLE code states its task
# (and department, where it has one) itself; a case type means what catalogue.py says, and
# 'Hundetegn' has no task on purpose.
CASE_TASKS = (
    ("85.02.00", "Borgerservice", "borger", 0.14), ("32.18.00", "Borgerservice", "borger", 0.14),
    ("32.21.00", "Borgerservice", "borger", 0.10), ("23.02.00", "Jobcenter", "borger", 0.14),
    ("28.09.00", "Pladsanvisning", "borger", 0.08), ("02.34.00", "Teknik og Miljø", "virksomhed", 0.06),
    ("07.18.00", "Teknik og Miljø", "borger", 0.05), ("27.24.00", "", "borger", 0.04),
    ("Byggesag", "", "virksomhed", 0.08), ("Byggesag; tilbygning", "", "", 0.03), ("Pension", "", "borger", 0.08),
    ("Hundetegn", "", "borger", 0.06),
)
# Per open day at demand factor 1 (letters, post out) or per hour (Digital Post in, any hour).
LETTERS_IN_PER_DAY, LETTERS_OUT_PER_DAY, DIGITAL_POST_OUT_PER_DAY = 30, 12, 70
DIGITAL_POST_IN_PER_HOUR = 2.5
CHAT_TOPICS = (("Pas og kørekort", 0.25), ("Flytning", 0.2), ("Pension", 0.15), ("Boligstøtte", 0.15),
               ("Byggesag", 0.1), ("Andet", 0.15))  # 'Andet' has no task on purpose
CHATS_PER_HOUR = 8.0
_YES_NO = {"ja": True, "nej": False, "": None}  # the export's yes/no columns as the connector reads them


class Exports:
    """The case system's daily KOMHEN exports and the chat system's export."""

    def __init__(self, world: World, csv_tally: SourceTally, chat_tally: SourceTally) -> None:
        self.world = world
        self.rng = world.rng("exports")
        self.csv_tally = csv_tally
        self.chat_tally = chat_tally

    def write(self) -> None:
        self.write_case_exports()
        self.write_chat()

    # ---- KOMHEN export of the case system: one CSV per calendar day

    def _rows(self) -> Iterator[tuple[float, str, str]]:
        """(time, channel value, direction value) of every letter and Digital Post item."""
        rng, world = self.rng, self.world
        for at in world.arrivals(rng, DIGITAL_POST_IN_PER_HOUR, EMAIL_HOUR_DEMAND):
            yield at, "Digital Post", "ind"
        for day in world.days:
            if day not in world.open_days:
                continue
            factor = world.day_factor(day)
            scanning = (local_epoch(day, time(8, 30)), local_epoch(day, time(11, 30)))  # the morning post
            office = (local_epoch(day, OFFICE_HOURS[0]), local_epoch(day, OFFICE_HOURS[1]))
            for count, (start, end), channel, direction in (
                (LETTERS_IN_PER_DAY, scanning, "Brev", "ind"),
                (LETTERS_OUT_PER_DAY, office, "Brev", "ud"),
                (DIGITAL_POST_OUT_PER_DAY, office, "Digital Post", "ud"),
            ):
                for _ in range(_poisson(rng, count * factor)):
                    yield rng.uniform(start, end), channel, direction

    def write_case_exports(self) -> None:
        rng, world, tally = self.rng, self.world, self.csv_tally
        by_day: defaultdict[date, list[tuple[float, list[str]]]] = defaultdict(list)
        for n, (at, channel, direction) in enumerate(sorted(self._rows()), start=1):
            task, department, requester_type, _ = rng.choices(CASE_TASKS, [t[-1] for t in CASE_TASKS])[0]
            local = local_time(int(at))
            stamp = local.isoformat() if rng.random() < 0.1 else local.strftime("%Y-%m-%d %H:%M:%S")
            citizen = world.citizen(rng)
            requester = world.cpr(citizen.cpr) if requester_type != "virksomhed" and rng.random() < 0.9 else ""
            filed_under = citizen.cpr.replace("-", "") if requester else None  # the CPR number: its ten digits
            written_channel = rng.choice((channel, channel.lower(), channel.upper()))
            resolved = rng.choice(("ja", "nej", "")) if direction == "ind" else ""
            web_first = rng.choice(("ja", "nej", "", "")) if direction == "ind" else ""
            row = [f"SAG-{local.year}-{n:06d}", stamp, written_channel, direction, task, department, requester_type,
                   resolved, web_first, requester]
            by_day[local.date()].append((int(at), row))
            kle, meant_department = (task, "") if _is_kle(task) else meaning("channel_export", task)
            tally.event(int(at), "letter" if channel == "Brev" else "digital_post",
                        "inbound" if direction == "ind" else "outbound", "arrived", kle, department or meant_department,
                        resolved=_YES_NO[resolved], web_first=_YES_NO[web_first],
                        requester=filed_under)  # out or in: the connector keys any requester id
        last = world.days[-1]
        for day in world.days:
            texts = [_csv_line(row) for _, row in sorted(by_day[day])]
            name = f"exports/henvendelser-{day.isoformat()}.csv"
            bad: list[int] = []
            if day == last:
                for i, row in enumerate(self._malformed_csv(day)):
                    position = min(len(texts), (i + 1) * len(texts) // 5)
                    texts.insert(position, row)
                    bad = [b + 1 if b >= position else b for b in bad] + [position]
            path = world.out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            body = ";".join(KOMHEN_HEADER) + "\r\n" + "".join(t + "\r\n" for t in texts)
            path.write_bytes(b"\xef\xbb\xbf" + body.encode())  # as Excel-minded exports write it
            tally.files.append(name)
            tally.records += 1 + len(texts)
            tally.skipped["header"] += 1
            tally.rejected_at += [f"{name}:{2 + b}" for b in sorted(bad)]

    def _malformed_csv(self, day: date) -> list[str]:
        world, rng = self.world, self.rng
        cpr = [world.cpr(world.citizen(rng).cpr) for _ in range(3)]
        d = day.isoformat()
        return [
            f"SAG-X-000001;{d} 25:61:00;Brev;ind;85.02.00;Borgerservice;borger;nej;nej;{cpr[0]}",  # no such time
            f"SAG-X-000002;{d} 10:00:00;Fax;ind;85.02.00;Borgerservice;borger;nej;nej;{cpr[1]}",  # no such channel
            f"SAG-X-000003;{d} 10:05:00;Brev;ind;85.02.00",  # cut short
            f"SAG-X-000004;{d} 10:10:00;Brev;ind;32.18.00;Borgerservice;borger;måske;nej;{cpr[2]}",  # not yes or no
        ]

    # ---- chat export: one JSON object per conversation

    def write_chat(self) -> None:
        rng, world, tally = self.rng, self.world, self.chat_tally
        lines: list[tuple[float, str]] = []
        for n, at in enumerate(sorted(world.open_arrivals(rng, CHATS_PER_HOUR, CHAT_HOURS)), start=1):
            topic = rng.choices([t for t, _ in CHAT_TOPICS], [w for _, w in CHAT_TOPICS])[0]
            citizen = world.citizen(rng)
            r = rng.random()
            requester_id = (world.written_phone(rng, citizen.phone) if r < 0.5
                            else world.email(citizen.email) if r < 0.8 else None)
            requester = citizen.phone if r < 0.5 else citizen.email if r < 0.8 else None  # who that id is
            local = local_time(int(at))
            record = {
                "id": f"chat-{local:%Y%m%d}-{n:05d}",
                "started": local.isoformat() if rng.random() < 0.8 else local.strftime("%Y-%m-%d %H:%M:%S"),
                "channel": "chat",
                "topic": topic,
                "requester_name": world.name(citizen.name) if rng.random() < 0.85 else None,
                "requester_id": requester_id,
                "resolved": rng.choice((True, True, False, None)),
                "came_from_web": rng.choice((True, False, None)),
                "duration_seconds": rng.randint(60, 1500),
                "agent": f"agent-{rng.randint(1, 12):02d}",
            }
            lines.append((at, json.dumps(record, ensure_ascii=False)))
            tally.event(int(at), "chat", "inbound", "arrived", *meaning("channel_export", topic),
                        resolved=record["resolved"], web_first=record["came_from_web"], requester=requester)
        texts = [text for _, text in sorted(lines)]
        bad: list[int] = []
        for i, text in enumerate(self._malformed_chat()):
            position = len(texts) - len(texts) // (i + 2)
            texts.insert(position, text)
            bad = [b + 1 if b >= position else b for b in bad] + [position]
        path = world.out_dir / CHAT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        tally.files.append(CHAT_FILE)
        tally.records += len(texts)
        tally.rejected_at += [f"{CHAT_FILE}:{1 + b}" for b in sorted(bad)]

    def _malformed_chat(self) -> list[str]:
        world, rng, day = self.world, self.rng, self.world.days[-1]
        c = world.citizen(rng)
        name, phone, email = world.name(c.name), world.written_phone(rng, c.phone), world.email(c.email)
        base = {"id": "chat-x-1", "requester_name": name, "requester_id": phone, "topic": "Pension",
                "started": f"{day.isoformat()}T10:00:00+01:00", "channel": "chat"}
        return [
            json.dumps(base, ensure_ascii=False)[:100],  # cut off mid-object, after the name and number
            json.dumps(base | {"id": "chat-x-2", "started": "i går kl. 10", "requester_id": email}, ensure_ascii=False),
            json.dumps(base | {"id": "chat-x-3", "channel": "sms"}, ensure_ascii=False),  # no such channel
        ]


def _poisson(rng: random.Random, mean: float) -> int:
    return len(poisson_times(rng, 0, 3600, mean))


def _is_kle(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and all(len(p) == 2 and p.isdigit() for p in parts)


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="").writerow(fields)
    return out.getvalue()
