"""The two kinds of error kanalpuls knows, after dlt's exceptions: decided by class, never by
matching message text.

- TransientError: something kanalpuls talks to is away or slow (the broker, the store, a
  mailbox, the worker confirming). Retried with backoff where a loop can wait; a command that
  gives up exits 75 (EX_TEMPFAIL: try again later) with the message.
- TerminalError: what was given will not work as given (a configuration, a steering file, a
  query, a file). A command exits 2 with the message, naming the file, line or field; a bad
  record is not an error of the process at all: it is dead-lettered with its reason.
"""

from __future__ import annotations


class KanalpulsError(Exception):
    """Base of the errors kanalpuls raises on purpose, with a message an IT operator can act on."""


class TransientError(KanalpulsError):
    """Retry: a service is unreachable or did not confirm in time; the same call may work later."""


class TerminalError(KanalpulsError):
    """Do not retry: the input or configuration is wrong and stays wrong until someone changes it."""
