"""IMAP mailboxes as RFC 5322 .eml files (imap/<mailbox>/<folder>/NNNN.eml), for imap_mailbox.

jobcenter@ and pladsanvisning@ are read over IMAP, not through Exchange tracking, so the
two e-mail sources stay apart. A test APPENDs each folder's files, in order, to a Dovecot
account per mailbox. Names, addresses, CPR and phone numbers are planted in headers and bodies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import time
from email.header import Header
from email.utils import format_datetime

from pipeline.simulated.calendar import local_epoch
from pipeline.simulated.catalogue import meaning
from pipeline.simulated.truth import ImapMailbox, SourceTally
from pipeline.simulated.world import DOMAIN, EMAIL_HOUR_DEMAND, MONTHS, World, local_time

# Shared mailboxes read over IMAP (not Exchange): address -> (display name, share of mail, staff).
IMAP_MAILBOXES: dict[str, tuple[str, float, tuple[str, ...]]] = {
    f"jobcenter@{DOMAIN}": ("Jobcenter", 0.6, ("Lone Vestergaard", "Kasper Holm")),
    f"pladsanvisning@{DOMAIN}": ("Pladsanvisningen", 0.4, ("Birgitte Dam",)),
}
IMAP_INBOX, IMAP_SENT = "INBOX", "Sent"
IMAP_SYSTEM = "imap"
IMAP_PER_HOUR = 1.3
IMAP_SUBJECTS = {
    "jobcenter": ("Ledighedsydelse - {name}, CPR {cpr}", "Kan ikke komme til samtale", "Sygemelding {name}",
                  "Spørgsmål om kontanthjælp", "Jobplan - cpr {cpr}"),
    "pladsanvisning": ("Opskrivning til vuggestue - {name}", "Plads i børnehave, CPR {cpr}",
                       "Udmeldelse af dagpleje", "Søskendefortrinsret {name}"),
}
IMAP_ASKS = {
    "jobcenter": ("Jeg er blevet ledig og vil gerne vide, hvordan jeg tilmelder mig.",
                  "Jeg kan desværre ikke komme til samtalen på torsdag.", "Hvornår bliver min ydelse udbetalt?"),
    "pladsanvisning": ("Vi vil gerne skrive vores søn op til vuggestue fra august.",
                       "Hvornår kan vi forvente en plads i børnehave?", "Vi flytter og vil gerne melde vores datter ud."),
}


@dataclass
class _Message:
    at: float
    mailbox: str
    folder: str
    data: bytes
    message_id: str
    kind: str = "inquiry"  # or "copy" (a reply filed in INBOX too), "report" (delivery report), "bad"


class Imap:
    """Threads of citizens' mail and the mailboxes' replies, filed as INBOX and Sent .eml files."""

    def __init__(self, world: World, tally: SourceTally) -> None:
        self.world = world
        self.tally = tally
        self.rng = world.rng("imap")
        self.messages: list[_Message] = []
        self.classes = {m: meaning("mailbox", m) for m in IMAP_MAILBOXES}
        self.copied_to_self = False

    def _id(self, domain: str) -> str:
        return f"<{self.rng.getrandbits(64):016x}.{self.rng.getrandbits(32):08x}@{domain}>"

    def write(self) -> None:
        rng, world = self.rng, self.world
        boxes = list(IMAP_MAILBOXES)
        for at in world.arrivals(rng, IMAP_PER_HOUR, EMAIL_HOUR_DEMAND):
            box = rng.choices(boxes, [v[1] for v in IMAP_MAILBOXES.values()])[0]
            to = boxes if rng.random() < 0.05 else [box]  # to both: one inbound event in each
            self.inbound_thread(at, to)
        self.files()

    def inbound_thread(self, at: float, to: list[str]) -> None:
        rng, world = self.rng, self.world
        citizen = world.citizen(rng)
        box = to[0]
        unit = box.split("@")[0]
        template = rng.choice(IMAP_SUBJECTS[unit])
        subject = template.format(name=citizen.name, cpr=citizen.cpr)
        if "{name}" in template:
            world.name(citizen.name)
        if "{cpr}" in template:
            world.cpr(citizen.cpr)
        sender = world.email(citizen.email)
        body = (f"Hej {IMAP_MAILBOXES[box][0]}\n\n{rng.choice(IMAP_ASKS[unit])}\n\n"
                f"Mit CPR-nummer er {world.cpr(citizen.cpr)}, og I kan ringe til mig på "
                f"{world.written_phone(rng, citizen.phone)}.\n\nVenlig hilsen\n{world.name(citizen.name)}\n")
        message_id = self._id(sender.split("@")[1])
        data = _eml(at, (citizen.name, sender), [(IMAP_MAILBOXES[b][0], b) for b in to], subject, message_id,
                    body, client=rng.choice(("Microsoft Outlook 16.0", "iPhone Mail (22B83)", None)))
        for b in to:
            self._add(_Message(at, b, IMAP_INBOX, data, message_id))
            self.tally.event(int(at), "email", "inbound", "arrived", *self.classes[b], requester=sender)  # Date: seconds
        if rng.random() >= 0.7:
            return
        replied = world.office.after(at + 600, rng.lognormvariate(math.log(4 * 3600), 0.8))
        if replied is None:
            return
        display, _, staff = IMAP_MAILBOXES[box]
        reply_id = self._id(DOMAIN)
        reply_subject = f"SV: {subject}"
        reply = (f"Kære {citizen.first}\n\nTak for din henvendelse. Vi vender tilbage med en afgørelse "
                 f"hurtigst muligt.\n\nMed venlig hilsen\n{world.name(rng.choice(staff))}\n{display}\n\n"
                 f"-----Oprindelig meddelelse-----\nFra: {citizen.name} <{sender}>\nEmne: {subject}\n\n"
                 + "".join(f"> {line}\n" for line in body.splitlines()))
        data = _eml(replied, (display, box), [(citizen.name, sender)], reply_subject, reply_id, reply,
                    in_reply_to=message_id, references=[message_id], client="Microsoft Outlook 16.0")
        self._add(_Message(replied, box, IMAP_SENT, data, reply_id))
        self.tally.event(int(replied), "email", "outbound", "arrived", *self.classes[box])
        if not self.copied_to_self:  # once a run: a colleague Bcc'd the mailbox, so the reply lies in INBOX too
            self.copied_to_self = True
            self._add(_Message(replied + 2, box, IMAP_INBOX, data, reply_id, kind="copy"))
            self.tally.duplicates += 1  # From is the mailbox: outbound, same Message-ID, same event
        bounced = replied + rng.uniform(30, 600)
        if rng.random() < 0.04 and bounced < world.end:  # the citizen's address is gone: a delivery report
            report = (f"This is the mail system at host mx.{DOMAIN}.\n\nI'm sorry to have to inform you that your "
                      f"message could not be delivered to one or more recipients.\n\n<{sender}>: host "
                      f"mx.{sender.split('@')[1]} said: 550 5.1.1 User unknown\n\n" + reply)
            data = _eml(bounced, ("Mail Delivery System", f"MAILER-DAEMON@mx.{DOMAIN}"), [(display, box)],
                        "Undelivered Mail Returned to Sender", self._id(f"mx.{DOMAIN}"), report, client=None)
            self._add(_Message(bounced, box, IMAP_INBOX, data, "", kind="report"))
            self.tally.skipped["delivery report"] += 1
        again = replied + rng.uniform(3600, 30 * 3600)
        if rng.random() < 0.2 and again < world.end:  # the citizen answers the reply
            answer = (f"Tak for svaret. Jeg kan træffes på {world.written_phone(rng, citizen.phone)}.\n\n"
                      f"{citizen.first}\n\n" + "".join(f"> {line}\n" for line in reply.splitlines()))
            answer_id = self._id(sender.split("@")[1])
            data = _eml(again, (citizen.name, sender), [(display, box)], f"SV: {reply_subject}", answer_id, answer,
                        in_reply_to=reply_id, references=[message_id, reply_id], client=None)
            self._add(_Message(again, box, IMAP_INBOX, data, answer_id))
            self.tally.event(int(again), "email", "inbound", "arrived", *self.classes[box], requester=sender)

    def _add(self, message: _Message) -> None:
        self.messages.append(message)

    def files(self) -> None:
        """INBOX and Sent of each mailbox, numbered in date order. On the last day: three messages
        the connector must reject (a Date no one can read, no Date, a From without an address),
        one without Message-ID (counted all the same), and one delivered twice."""
        world, rng = self.world, self.rng
        box = next(iter(IMAP_MAILBOXES))
        display = IMAP_MAILBOXES[box][0]
        last_day = world.days[-1]
        noon = local_epoch(last_day, time(12))
        for n, problem in enumerate(("bad date", "no date", "no address", "no message-id")):
            citizen = world.citizen(rng)
            sender = citizen.email if problem == "no address" else world.email(citizen.email)  # planted if written
            subject = f"Ledighedsydelse - {world.name(citizen.name)}, CPR {world.cpr(citizen.cpr)}"
            body = f"Mit CPR-nummer er {citizen.cpr}, tlf. {world.written_phone(rng, citizen.phone)}.\n"
            at = noon + 600 * n
            data = _eml(at, (citizen.name, sender), [(display, box)], subject, self._id("example.com"), body, client=None)
            lines = data.split(b"\r\n")
            if problem == "bad date":
                stamp = f"{last_day:%a}, {last_day.day} {MONTHS[last_day.month - 1]} {last_day.year} 25:61:00 +0100"
                lines = [f"Date: {stamp}".encode() if line.startswith(b"Date:") else line for line in lines]
            elif problem == "no date":
                lines = [line for line in lines if not line.startswith(b"Date:")]
            elif problem == "no address":  # a scanner that signs with its name only
                lines = [f"From: {_header('Scanner Rådhus')}".encode() if line.startswith(b"From:") else line
                         for line in lines]
            else:
                lines = [line for line in lines if not line.startswith(b"Message-ID:")]
            message = _Message(at, box, IMAP_INBOX, b"\r\n".join(lines), "", kind="bad")
            if problem == "no message-id":
                message.kind = "inquiry"
            self._add(message)
            if message.kind == "inquiry":  # the connector falls back to the message's UID for its event id
                self.tally.event(at, "email", "inbound", "arrived", *self.classes[box], requester=sender)
        inbound = [m for m in self.messages if m.folder == IMAP_INBOX and m.message_id and m.kind == "inquiry"]
        if inbound:
            twice = inbound[len(inbound) // 2]
            self._add(_Message(twice.at + 1, twice.mailbox, IMAP_INBOX, twice.data, twice.message_id))
            self.tally.duplicates += 1

        folders: defaultdict[tuple[str, str], list[_Message]] = defaultdict(list)
        for message in self.messages:
            folders[(message.mailbox, message.folder)].append(message)
        for address in IMAP_MAILBOXES:
            counts = {}
            for folder in (IMAP_INBOX, IMAP_SENT):
                messages = sorted(folders[(address, folder)], key=lambda m: m.at)
                directory = world.out_dir / "imap" / address / folder
                directory.mkdir(parents=True, exist_ok=True)
                for n, message in enumerate(messages, start=1):
                    name = f"imap/{address}/{folder}/{n:04d}.eml"
                    (world.out_dir / name).write_bytes(message.data)
                    self.tally.files.append(name)
                    if message.kind == "bad":
                        self.tally.rejected_at.append(name)
                counts[folder] = len(messages)
                self.tally.records += len(messages)
            world.imap_mailboxes.append(ImapMailbox(address=address, folders=counts))


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _address(display: str, address: str) -> str:
    if display.isascii():
        return f'"{display}" <{address}>' if any(c in display for c in ",.;:") else f"{display} <{address}>"
    return f"{Header(display, 'utf-8').encode()} <{address}>"


def _eml(at: float, sender: tuple[str, str], to: list[tuple[str, str]], subject: str, message_id: str, body: str,
         *, in_reply_to: str | None = None, references: list[str] | None = None, client: str | None) -> bytes:
    """An RFC 5322 message as a mail client submits it: CRLF, encoded words, UTF-8 body in 8bit."""
    headers = [
        f"Date: {format_datetime(local_time(int(at)))}",
        f"From: {_address(*sender)}",
        f"To: {', '.join(_address(*t) for t in to)}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {' '.join(references)}")
    headers += [f"Subject: {_header(subject)}", "MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"',
                "Content-Transfer-Encoding: 8bit"]
    if client:
        headers.append(f"X-Mailer: {client}")
    text = "\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")
    return text.encode("utf-8")


def connector_config() -> dict[str, object]:
    """The imap_mailbox connector's `system` and `mailboxes` for these files; the server's host,
    port, tls and logins are for whoever APPENDs them to add."""
    return {
        "system": IMAP_SYSTEM,
        "mailboxes": [{"address": a, "folders": [IMAP_INBOX], "sent_folder": IMAP_SENT} for a in IMAP_MAILBOXES],
    }
