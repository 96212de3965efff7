"""Relative date groups for the chat list, as ChatGPT shows them: "Today", "Yesterday",
"Previous 7 days", "Previous 30 days", then one group per month ("October", or "October 2025" for an
earlier year).

Qt-free and clock-free: the caller passes ``now`` (a ``datetime``; naive means local time, so day
starts follow the local zone's daylight-saving changes through ``datetime.timestamp()``).
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import date, datetime, timedelta
from typing import NamedTuple

__all__ = ["DateGroup", "date_groups", "group_index"]


class DateGroup(NamedTuple):
    """A group's label and the first moment (Unix time) it covers; it ends where the newer one starts."""

    label: str
    start: float


def _midnight(day: date, now: datetime) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo).timestamp()


def date_groups(now: datetime, oldest: float | None = None) -> list[DateGroup]:
    """The groups from newest to oldest, enough of them to reach back to ``oldest`` (Unix time; None:
    just the fixed four). A time belongs to the first group whose ``start`` is at or before it; a time
    in the future (another machine's clock) belongs to "Today"."""
    today = now.date()
    groups = [
        DateGroup("Today", _midnight(today, now)),
        DateGroup("Yesterday", _midnight(today - timedelta(days=1), now)),
        DateGroup("Previous 7 days", _midnight(today - timedelta(days=7), now)),
        DateGroup("Previous 30 days", _midnight(today - timedelta(days=30), now)),
    ]
    if oldest is None or oldest >= groups[-1].start:
        return groups
    # Months, from the one holding the 30-day boundary back to the one holding ``oldest``.
    year, month = (today - timedelta(days=30)).year, (today - timedelta(days=30)).month
    while True:
        start = _midnight(date(year, month, 1), now)
        name = calendar.month_name[month]
        groups.append(DateGroup(name if year == today.year else f"{name} {year}", start))
        if start <= oldest or len(groups) > 12 * 200:  # 200 years: a corrupt timestamp ends here
            break
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return groups


def group_index(groups: list[DateGroup], when: float) -> int:
    """Which of ``groups`` (from :func:`date_groups`) holds the time ``when``."""
    # Starts descend; bisect on their negatives (ascending): the first start <= when (the oldest
    # group takes anything older still).
    keys = [-g.start for g in groups]
    return min(len(groups) - 1, bisect_left(keys, -when))
