"""Exchange message-tracking logs of two servers: the shared mailboxes' e-mail, for exchange_tracking.

Citizens (and builders) write to borgerservice@, byggesag@ and post@; each message is
received, maybe scanned and shadowed, delivered on the server holding the mailbox, and
often answered in office hours. Staff mail, misaddressed mail and bounces add the noise
the connector must skip. Sender addresses, names and CPR numbers in subjects are planted.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import defaultdict
from datetime import UTC, date, datetime, time

from pipeline.simulated.calendar import local_epoch
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import SourceTally
from pipeline.simulated.world import DOMAIN, EMAIL_HOUR_DEMAND, OFFICE_HOURS, Citizen, World, guid, same_hour

EXCHANGE_FIELDS = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context", "connector-id",
    "source", "event-id", "internal-message-id", "message-id", "network-message-id", "recipient-address",
    "recipient-status", "total-bytes", "recipient-count", "related-recipient-address", "reference",
    "message-subject", "sender-address", "return-path", "message-info", "directionality", "tenant-id",
    "original-client-ip", "original-server-ip", "custom-data", "transport-traffic-type", "log-id", "schema-version",
)
_EXCHANGE_AT = {name: i for i, name in enumerate(EXCHANGE_FIELDS)}
EXCHANGE_VERSION = "15.02.1118.007"
EXCHANGE_SERVERS = {"EXCH01": "10.1.1.10", "EXCH02": "10.1.1.11"}
EXCHANGE_SYSTEM = "exchange"
# Shared mailbox -> (share of inbound mail, server holding its database). post@ has no task
# on purpose (catalogue.py): its mail counts as unclassified.
EXCHANGE_MAILBOXES: dict[str, tuple[float, str]] = {
    f"borgerservice@{DOMAIN}": (0.55, "EXCH01"),
    f"byggesag@{DOMAIN}": (0.25, "EXCH02"),
    f"post@{DOMAIN}": (0.20, "EXCH01"),
}
EXCHANGE_STAFF = tuple(f"{local}@{DOMAIN}" for local in (
    "mette.kjaer", "lars.bech", "hanne.winther", "soeren.lykke", "anne.brix", "peter.skov",
))  # fmt: skip
EMAILS_PER_HOUR = 7.0  # inbound to the shared mailboxes at demand factor 1: ~700 in an ordinary week
EXCHANGE_SUBJECTS = {
    "borgerservice": (
        "Flytning, ny adresse - CPR {cpr}", "Spørgsmål om pas til {name}", "Sundhedskort - {name}, cpr {cpr}",
        "Kørekort fornyelse", "Ændring af adresse", "Bestilling af tid", "Pas til min søn, {name}",
    ),
    "byggesag": (
        "Byggetilladelse, matr. {matr} - {name}", "Ansøgning om tilbygning, {name}", "Partshøring sag {case}",
        "Carport \"{name}\" - supplerende tegninger", "Spørgsmål til lokalplan",
    ),
    "post": ("Klage", "Henvendelse fra {name}", "Aktindsigt - CPR {cpr}", "Faktura {case}", "Spørgsmål"),
}
FIRMS = ("nordbyg", "tegnestuen-aa", "carport-eksperten", "vvs-jensen", "arkitema-syd")


class _TrackingLog:
    """Rows of every server's tracking log, filed by server and UTC day, in time order when written."""

    def __init__(self, rng: random.Random, tally: SourceTally) -> None:
        self.rng = rng
        self.tally = tally
        self.rows: defaultdict[tuple[str, date], list[tuple[float, int, list[str]]]] = defaultdict(list)
        self.internal_id = rng.randint(4000, 9000)

    def add(self, at: float, server: str, event: str, skip: str | None = None, **values: str) -> None:
        row = [""] * len(EXCHANGE_FIELDS)
        stamp = datetime.fromtimestamp(at, UTC)
        row[0] = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        row[_EXCHANGE_AT["server-hostname"]] = server
        row[_EXCHANGE_AT["event-id"]] = event
        for name, value in values.items():
            row[_EXCHANGE_AT[name.replace("_", "-")]] = value
        row[_EXCHANGE_AT["transport-traffic-type"]] = "Email"
        row[_EXCHANGE_AT["log-id"]] = guid(self.rng)
        row[_EXCHANGE_AT["schema-version"]] = EXCHANGE_VERSION
        key = (server, stamp.date())
        self.rows[key].append((at, len(self.rows[key]), row))
        if skip is not None:
            self.tally.skipped[skip] += 1

    def next_internal_id(self) -> str:
        self.internal_id += 1
        return str(self.internal_id)


class Exchange:
    """Writes the tracking logs of both servers and tallies what exchange_tracking makes of each row."""

    def __init__(self, world: World, tally: SourceTally) -> None:
        self.world = world
        self.tally = tally
        self.rng = world.rng("exchange")
        self.log = _TrackingLog(self.rng, tally)
        self.classes = {m: meaning("mailbox", m) for m in EXCHANGE_MAILBOXES}

    def write(self) -> None:
        rng, world = self.rng, self.world
        for at in world.arrivals(rng, EMAILS_PER_HOUR, EMAIL_HOUR_DEMAND):
            self.inbound(at)
        for day in world.days:
            if day in world.open_days:
                for at in self._office_moments(day, rng.randint(15, 30)):
                    self.staff_mail(at)
                for at in self._office_moments(day, rng.randint(5, 10)):
                    self.staff_sends_out(at)
            if rng.random() < 0.7:
                self.misaddressed(local_epoch(day, time(rng.randint(7, 21), rng.randint(0, 59))))
        self.files()

    def _office_moments(self, day: date, n: int) -> list[float]:
        start, end = local_epoch(day, OFFICE_HOURS[0]), local_epoch(day, OFFICE_HOURS[1])
        return sorted(self.rng.uniform(start, end) for _ in range(n))

    def _sender(self, mailbox: str) -> tuple[str, Citizen]:
        citizen = self.world.citizen(self.rng)
        if mailbox.startswith("byggesag@") and self.rng.random() < 0.4:
            return self.world.email(f"{self.rng.choice(('info', 'kontakt', 'post'))}@{self.rng.choice(FIRMS)}.example"), citizen
        return self.world.email(citizen.email), citizen

    def _subject(self, mailbox: str, citizen: Citizen) -> str:
        template = self.rng.choice(EXCHANGE_SUBJECTS[mailbox.split("@")[0]])
        if "{name}" in template:
            self.world.name(citizen.name)
        if "{cpr}" in template:
            self.world.cpr(citizen.cpr)
        return template.format(
            name=citizen.name, cpr=citizen.cpr, matr=f"{self.rng.randint(1, 60)}{self.rng.choice('abcd')}",
            case=f"{self.rng.randint(2024, 2025)}-{self.rng.randint(1000, 99999)}",
        )

    def inbound(self, at: float) -> None:
        rng, log = self.rng, self.log
        mailboxes = list(EXCHANGE_MAILBOXES)
        main = rng.choices(mailboxes, [share for share, _ in EXCHANGE_MAILBOXES.values()])[0]
        shared = [main]
        if rng.random() < 0.08:  # to two shared mailboxes: counted once in each
            shared.append(rng.choice([m for m in mailboxes if m != main]))
        staff = [self.world.email(rng.choice(EXCHANGE_STAFF))] if rng.random() < 0.10 else []
        sender, citizen = self._sender(main)
        subject = self._subject(main, citizen)
        domain = sender.split("@")[1]
        mta = f"203.0.113.{rng.randint(2, 254)}"
        message_id = f"<{rng.getrandbits(64):016X}@{domain}>"
        network_id = guid(rng)
        size = str(rng.randint(4_000, 2_500_000))
        common = {"message_id": message_id, "network_message_id": network_id, "message_subject": subject,
                      "sender_address": sender, "return_path": sender, "total_bytes": size}
        log.add(at, "EXCH01", "RECEIVE", "event RECEIVE", client_ip=mta, client_hostname=f"mx.{domain}",
                server_ip=EXCHANGE_SERVERS["EXCH01"], connector_id="EXCH01\\Default Frontend EXCH01", source="SMTP",
                source_context=f"08DC{rng.getrandbits(48):012X};250 2.0.0 OK", internal_message_id=log.next_internal_id(),
                recipient_address=";".join(shared + staff), recipient_count=str(len(shared + staff)),
                directionality="Incoming", original_client_ip=mta, **common)
        if rng.random() < 0.5:
            log.add(at + 0.2, "EXCH01", "AGENTINFO", "event AGENTINFO", source="AGENT",
                    custom_data="S:CFA=SUM|SID=00000000-0000-0000-0000-000000000000|SCL=1|SCORE=-5",
                    recipient_address=";".join(shared + staff), directionality="Incoming", **common)
        if rng.random() < 0.25:  # shadow redundancy: the other server keeps a copy until delivery
            log.add(at + 0.4, "EXCH02", "HAREDIRECT", "event HAREDIRECT", source="SMTP",
                    recipient_address=";".join(shared + staff), directionality="Incoming", **common)
        by_server: dict[str, list[str]] = defaultdict(list)
        for mailbox in shared:
            by_server[EXCHANGE_MAILBOXES[mailbox][1]].append(mailbox)
        by_server["EXCH01"].extend(staff)
        delivered_at = at
        for server, recipients in sorted(by_server.items()):
            delivered_at = at + rng.uniform(0.5, 4.0)
            written = [r.capitalize() if rng.random() < 0.1 else r for r in recipients]  # as clients type them
            row = dict(recipient_address=";".join(written), recipient_count=str(len(written)),
                       internal_message_id=log.next_internal_id(), source="STOREDRIVER", directionality="Incoming",
                       message_info=f"{datetime.fromtimestamp(at, UTC).isoformat()[:23]}Z;SRV={server}.kommune.local",
                       custom_data=f"S:Mailboxes={rng.getrandbits(32):08x};S:DeliveryLatency={delivered_at - at:.1f}",
                       **common)
            boxes = [r for r in recipients if r in EXCHANGE_MAILBOXES]
            log.add(delivered_at, server, "DELIVER", None if boxes else "not to a shared mailbox", **row)
            first_read = delivered_at  # the time of the copy the connector reads first, which it keeps
            again = delivered_at + rng.uniform(20, 90)
            if boxes and rng.random() < 0.02 and same_hour(delivered_at, again):
                # A failover resubmits the message from Safety Net: delivered (and logged) twice, in the same
                # hour. The logs are read server by server, EXCH01's first: its copy is the one kept.
                other = "EXCH02" if server == "EXCH01" else "EXCH01"
                log.add(again - 1, other, "RESUBMIT", "event RESUBMIT", source="SAFETYNET", **common)
                log.add(again, other, "DELIVER", None, **row)
                self.tally.duplicates += len(boxes)
                first_read = min((server, delivered_at), (other, again))[1]
            for mailbox in boxes:  # from whoever owns the sender's address: a citizen, or a firm
                self.tally.event(first_read, "email", "inbound", "arrived", *self.classes[mailbox], requester=sender)
        if rng.random() < 0.6:
            self.reply(main, sender, subject, delivered_at)

    def reply(self, mailbox: str, to: str, subject: str, after: float) -> None:
        rng, log = self.rng, self.log
        at = self.world.office.after(after + 300, rng.lognormvariate(math.log(2.5 * 3600), 0.9))
        if at is None or at + 3 >= self.world.end:
            return
        if not same_hour(at, at + 3):  # keep the hops of one send in one hour
            at = (int(at // 3600) + 1) * 3600 + 0.5
        server = EXCHANGE_MAILBOXES[mailbox][1]
        subject = f"SV: {subject}"
        common = {"message_id": f"<{rng.getrandbits(96):024x}@{server}.kommune.local>",
                      "network_message_id": guid(rng), "message_subject": subject, "sender_address": mailbox,
                      "return_path": mailbox, "recipient_address": to, "recipient_count": "1",
                      "total_bytes": str(rng.randint(6_000, 60_000)), "directionality": "Originating"}
        log.add(at - 0.5, server, "NOTIFYMAPI", "event NOTIFYMAPI", source="STOREDRIVER",
                source_context=f"MDB:{guid(rng)}, Mailbox:{guid(rng)}, MessageClass:IPM.Note",
                sender_address=mailbox)
        log.add(at, server, "SUBMIT", "event SUBMIT", source="STOREDRIVER", **common)
        log.add(at + 0.3, server, "RECEIVE", "event RECEIVE", source="STOREDRIVER",
                internal_message_id=log.next_internal_id(), **common)
        if server == "EXCH02":  # relayed through EXCH01, which holds the Internet send connector: two SENDs
            log.add(at + 1, "EXCH02", "SEND", None, source="SMTP", connector_id="Intra-Organization SMTP Send Connector",
                    server_ip=EXCHANGE_SERVERS["EXCH01"], recipient_status="250 2.6.0 Queued", **common)
            log.add(at + 2, "EXCH01", "SEND", None, source="SMTP", connector_id="Internet",
                    recipient_status="250 2.0.0 OK", **common)
            self.tally.duplicates += 1
        else:
            log.add(at + 1, "EXCH01", "SEND", None, source="SMTP", connector_id="Internet",
                    recipient_status="250 2.0.0 OK", **common)
        self.tally.event(at + 1, "email", "outbound", "arrived", *self.classes[mailbox])
        bounce = at + rng.uniform(60, 900)
        if rng.random() < 0.04 and bounce < self.world.end:  # the citizen's address no longer exists
            ndr = {"message_id": f"<{rng.getrandbits(64):016x}@mx.{to.split('@')[1]}>",
                       "network_message_id": guid(rng), "message_subject": f"Undeliverable: {subject}",
                       "recipient_address": mailbox, "recipient_count": "1", "total_bytes": "9000", "directionality": "Incoming"}
            log.add(bounce, "EXCH01", "RECEIVE", "event RECEIVE", source="SMTP", sender_address="<>", **ndr)
            log.add(bounce + 1, server, "DELIVER", "null sender (bounce or delivery report)", source="STOREDRIVER",
                    sender_address=rng.choice(("", "<>")), **ndr)

    def staff_mail(self, at: float) -> None:
        rng, log = self.rng, self.log
        a, b = rng.sample(EXCHANGE_STAFF, 2)
        common = {"message_id": f"<{rng.getrandbits(64):016x}@EXCH01.kommune.local>", "network_message_id": guid(rng),
                      "message_subject": rng.choice(("Frokost", "Vagtplan uge 48", "Møde om sag", "Kopimaskinen")),
                      "sender_address": self.world.email(a), "return_path": a, "recipient_address": self.world.email(b),
                      "recipient_count": "1", "total_bytes": str(rng.randint(3_000, 40_000)), "directionality": "Originating"}
        log.add(at, "EXCH01", "SUBMIT", "event SUBMIT", source="STOREDRIVER", **common)
        log.add(at + 1.5, "EXCH01", "DELIVER", "not to a shared mailbox", source="STOREDRIVER", **common)

    def staff_sends_out(self, at: float) -> None:
        rng, log = self.rng, self.log
        citizen = self.world.citizen(rng)
        staff = self.world.email(rng.choice(EXCHANGE_STAFF))
        common = {"message_id": f"<{rng.getrandbits(64):016x}@EXCH01.kommune.local>", "network_message_id": guid(rng),
                      "message_subject": f"Vedr. din sag - {self.world.name(citizen.name)}", "sender_address": staff,
                      "return_path": staff, "recipient_address": self.world.email(citizen.email), "recipient_count": "1",
                      "total_bytes": str(rng.randint(5_000, 90_000)), "directionality": "Originating"}
        log.add(at, "EXCH01", "SUBMIT", "event SUBMIT", source="STOREDRIVER", **common)
        log.add(at + 1, "EXCH01", "SEND", "not from a shared mailbox", source="SMTP", connector_id="Internet",
                recipient_status="250 2.0.0 OK", **common)

    def misaddressed(self, at: float) -> None:
        """A citizen mistypes the mailbox: the message fails and a delivery report goes back."""
        rng, log = self.rng, self.log
        citizen = self.world.citizen(rng)
        sender = self.world.email(citizen.email)
        subject = f"Spørgsmål fra {self.world.name(citizen.name)}"
        common = {"message_id": f"<{rng.getrandbits(64):016X}@{sender.split('@')[1]}>",
                      "network_message_id": guid(rng), "message_subject": subject, "total_bytes": "12000"}
        log.add(at, "EXCH01", "RECEIVE", "event RECEIVE", source="SMTP", sender_address=sender,
                recipient_address=f"borgerservise@{DOMAIN}", recipient_count="1", directionality="Incoming", **common)
        log.add(at + 1, "EXCH01", "FAIL", "event FAIL", source="ROUTING", sender_address=sender,
                recipient_address=f"borgerservise@{DOMAIN}",
                recipient_status="550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found", directionality="Incoming", **common)
        log.add(at + 2, "EXCH01", "DSN", "event DSN", source="DSN", recipient_address=sender, recipient_count="1",
                directionality="Originating", **common)

    def files(self) -> None:
        """One file per server and UTC day; the last EXCH01 file gets the malformed rows."""
        keys = sorted(self.log.rows)
        last = max((k for k in keys if k[0] == "EXCH01"), default=None)
        for server, day in keys:
            rows = [row for _, _, row in sorted(self.log.rows[(server, day)], key=lambda r: (r[0], r[1]))]
            texts = [_csv_row(row) for row in rows]
            name = f"exchange/{server}/MSGTRK{day:%Y%m%d}00-1.LOG"
            bad: set[int] = set()
            if (server, day) == last:
                for i, text in enumerate(self._malformed(rows[-1] if rows else None, day)):
                    position = min(len(texts), (i + 1) * len(texts) // 5)
                    texts.insert(position, text)
                    bad = {b + 1 if b >= position else b for b in bad} | {position}
            header = [
                "#Software: Microsoft Exchange Server", f"#Version: {EXCHANGE_VERSION}", "#Log-type: Message Tracking Log",
                f"#Date: {day.isoformat()}T00:00:0{self.rng.randint(1, 9)}.{self.rng.randint(100, 999)}Z",
                "#Fields: " + ",".join(EXCHANGE_FIELDS),
            ]
            path = self.world.out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\xef\xbb\xbf" + "".join(line + "\r\n" for line in header + texts).encode())
            self.tally.files.append(name)
            self.tally.records += len(header) + len(texts)
            self.tally.skipped["header"] += len(header)
            self.tally.rejected_at += [f"{name}:{len(header) + 1 + i}" for i in sorted(bad)]

    def _malformed(self, template: list[str] | None, day: date) -> list[str]:
        """Four rows a connector must reject, three with a citizen's address, name or CPR in them."""
        citizen = self.world.citizen(self.rng)
        sender = self.world.email(citizen.email)
        subject = f"Flytning - {self.world.name(citizen.name)}, CPR {self.world.cpr(citizen.cpr)}"
        row = list(template) if template else [""] * len(EXCHANGE_FIELDS)
        for name, value in (("event-id", "DELIVER"), ("recipient-address", f"borgerservice@{DOMAIN}"),
                            ("sender-address", sender), ("message-subject", subject), ("source", "STOREDRIVER"),
                            ("network-message-id", guid(self.rng)), ("date-time", f"{day.isoformat()}T09:30:00.000Z")):
            row[_EXCHANGE_AT[name]] = value
        bad_time = list(row)
        bad_time[0] = f"{day.isoformat()}T25:61:07.000Z"  # no such time
        truncated = row[:21]  # the writer stopped mid-row
        bad_event = list(row)
        bad_event[_EXCHANGE_AT["event-id"]] = "Deliver!"
        no_id = list(row)
        no_id[_EXCHANGE_AT["network-message-id"]] = ""
        return [_csv_row(bad_time), _csv_row(truncated), _csv_row(bad_event), _csv_row(no_id)]


def _csv_row(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()
