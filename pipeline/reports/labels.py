"""Names the reports show for the pipeline's codes, in one place: Danish for the KOMHEN
hand-in (KL's form is Danish), English for the strategy report (like the CLI and the
steering file's target descriptions). Codes stay in every machine-readable column.
"""

from __future__ import annotations

import textwrap

from pipeline.messages import CHANNEL_NAMES

# Inquiry channels in the order KOMHEN tables and every report list them: the personal
# channels first, then the written ones, then the digital ones (BRIEF.md's channel table).
# `web` (page views) is not an inquiry channel and appears in no table.
CHANNELS: tuple[str, ...] = ("walk_in", "phone", "email", "letter", "digital_post", "self_service", "chat")
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")

# Channel names come from the one message catalogue; '*' (all channels) is not a channel.
CHANNEL_DA = {code: names[0] for code, names in CHANNEL_NAMES.items() if code != "*"}
CHANNEL_EN = {code: names[1] for code, names in CHANNEL_NAMES.items() if code != "*"}
DIRECTION_DA = {"inbound": "Indgående", "outbound": "Udgående"}
REQUESTER_TYPES: tuple[str, ...] = ("citizen", "business", "association", "authority", "unknown")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
UNCLASSIFIED = "unclassified"

# Colour per channel (Okabe-Ito, safe for colour-blind readers): warm for the expensive
# personal channels, cool for the digital ones, grey for paper.
CHANNEL_COLOURS = {
    "walk_in": "#D55E00",
    "phone": "#E69F00",
    "email": "#CC79A7",
    "letter": "#999999",
    "digital_post": "#0072B2",
    "self_service": "#009E73",
    "chat": "#56B4E9",
}


def channel_order(channel: str) -> int:
    """Sort key: KOMHEN's order, anything unknown after it."""
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def task_order(task: str) -> tuple[int, str]:
    """Sort key: KLE codes in order, `unclassified` last."""
    return (1 if task == UNCLASSIFIED else 0, task)


def task_title(task: str, label: str, width: int = 30) -> str:
    """'85.06.00 Pas' for a chart axis, wrapped onto lines of at most `width` characters so
    long KLE labels neither overlap nor squeeze the plot; 'Unclassified' for unmapped events."""
    if task == UNCLASSIFIED:
        return "Unclassified"
    if task == "*":
        return "All tasks"
    return textwrap.fill(f"{task} {label}".strip(), width=width, break_long_words=True)
