"""What the simulated municipality means by each of its queues, services, mailboxes, pages and forms.

The world's own answer to "which task and department is this inquiry?", written by hand from
its design, so that ground truth does not come from the product it checks: kanalpuls recovers
task and department through its mapping rules (deploy/mapping.yaml, written for this
municipality), and tests/pipeline/simulated/test_catalogue.py checks that those rules give back
what this table says. A name the table does not list has no task here (the switchboard, the
"Andet" ticket, post@, other web pages): its inquiries count as unclassified.

Tables are keyed by the kind of name a source writes, as the rules file groups them.
"""

from __future__ import annotations

from typing import NamedTuple

from pipeline.simulated.world import DOMAIN
from schemas import UNCLASSIFIED


class Meaning(NamedTuple):
    task: str  # KLE code, or UNCLASSIFIED
    department: str  # empty when there is no task


NO_TASK = Meaning(UNCLASSIFIED, "")

BORGERSERVICE, JOBCENTER, PLADSANVISNING, TEKNIK = "Borgerservice", "Jobcenter", "Pladsanvisning", "Teknik og Miljø"

# KLE tasks (opgaver) the municipality's channels serve, with the labels it uses for them.
TASK_LABELS: dict[str, str] = {
    "02.34.00": "Byggesager",
    "07.18.00": "Affald og genbrug",
    "23.02.00": "Jobcenter og ydelser",
    "27.24.00": "Sundhedskort og lægevalg",
    "28.09.00": "Pladsanvisning, dagtilbud",
    "32.18.00": "Pension",
    "32.21.00": "Boligstøtte",
    "85.02.00": "Flytning og folkeregister",
    "85.06.00": "Pas",
    "85.08.00": "Kørekort",
}

PASSPORT = Meaning("85.06.00", BORGERSERVICE)
LICENCE = Meaning("85.08.00", BORGERSERVICE)
HEALTH_CARD = Meaning("27.24.00", BORGERSERVICE)
MOVING = Meaning("85.02.00", BORGERSERVICE)
PENSION = Meaning("32.18.00", BORGERSERVICE)
HOUSING_BENEFIT = Meaning("32.21.00", BORGERSERVICE)
JOBS = Meaning("23.02.00", JOBCENTER)
DAYCARE = Meaning("28.09.00", PLADSANVISNING)
BUILDING = Meaning("02.34.00", TEKNIK)
WASTE = Meaning("07.18.00", TEKNIK)

CATALOGUE: dict[str, dict[str, Meaning]] = {
    # Asterisk queues (pipeline/simulated/phone.py). The switchboard takes any matter.
    "phone_queue": {
        "pas": PASSPORT, "koerekort": LICENCE, "sundhedskort": HEALTH_CARD, "flytning": MOVING,
        "pension": PENSION, "boligstoette": HOUSING_BENEFIT, "jobcenter": JOBS, "pladsanvisning": DAYCARE,
        "byggesag": BUILDING, "affald": WASTE, "omstilling": NO_TASK,
    },
    # The ticket machine's services (pipeline/simulated/walkins.py). "Andet" is anything else.
    "ticket_service": {
        "Pas": PASSPORT, "Kørekort": LICENCE, "Sundhedskort": HEALTH_CARD, "Flytning": MOVING, "Pension": PENSION,
        "Jobcenter": JOBS, "Andet": NO_TASK,
    },
    # Shared mailboxes: Exchange (exchange.py) and IMAP (imap.py). post@ gets every kind of mail.
    "mailbox": {
        f"borgerservice@{DOMAIN}": MOVING, f"byggesag@{DOMAIN}": BUILDING, f"post@{DOMAIN}": NO_TASK,
        f"jobcenter@{DOMAIN}": JOBS, f"pladsanvisning@{DOMAIN}": DAYCARE,
    },
    # Forms sent on the self-service platform (web.py), by the decoded path they POST to.
    # The dog-tag form belongs to no task the municipality counts.
    "web_form": {
        "/selvbetjening/flytning/send": MOVING, "/selvbetjening/pas/bestil": PASSPORT,
        "/api/formular/boligstøtte": HOUSING_BENEFIT, "/selvbetjening/storskrald/bestil": WASTE,
        "/selvbetjening/hundetegn/send": NO_TASK,
    },
    # Task pages of the website (web.py), by decoded path; the moving form's own page reads as
    # the moving task's page. Every other page (front page, news, search, receipts) has no task.
    "web_page": {
        "/borger/pas-og-koerekort/pas": PASSPORT, "/borger/pas-og-koerekort/kørekort": LICENCE,
        "/borger/flytning": MOVING, "/borger/sundhedskort": HEALTH_CARD, "/borger/affald": WASTE,
        "/borger/affald/storskrald": WASTE, "/erhverv/byggeri": BUILDING, "/erhverv/byggeri/byggetilladelse": BUILDING,
        "/selvbetjening/flytning": MOVING,
    },
    # Case types of the case system's export and topics of the chat export (exports.py); rows
    # that carry a KLE code say their task themselves. Dog tags and "Andet" have no task.
    "channel_export": {
        "Byggesag": BUILDING, "Byggesag; tilbygning": BUILDING, "Pension": PENSION, "Hundetegn": NO_TASK,
        "Pas og kørekort": PASSPORT, "Flytning": MOVING, "Boligstøtte": HOUSING_BENEFIT, "Andet": NO_TASK,
    },
}


def meaning(kind: str, name: str) -> Meaning:
    """(task, department) the municipality means by `name`, a queue, service, mailbox, path or
    case type of `kind`; NO_TASK for a name it gives no task."""
    return CATALOGUE[kind].get(name, NO_TASK)
