"""When daily briefings are due: pure functions of a local time, an IANA zone and `now`."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = dt.UTC
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})")


def parse_local_time(text: str) -> dt.time | None:
    """'7:30' or '07:30' -> time(7, 30); anything else -> None."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


def format_local_time(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


@functools.cache
def _zone_names_by_folded_case() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")
_ZONE_NAME_MAX = 64
# Files of the tz database that ZoneInfo loads but that name no place: this server's own
# setting (localtime: briefings would move with the host), the database's default rules and its
# "not set" placeholder (posixrules, Factory), and copies of every zone under posix/ and right/
# (right/ ones count leap seconds, so their clock runs 27 s off). Folded case.
_NOT_PLACES = frozenset({"localtime", "posixrules", "factory"})
_NOT_PLACE_FOLDERS = ("posix/", "right/")


def names_no_place(name: str) -> bool:
    """Whether `name` (any case) is a tz database name that is no place's zone ('localtime',
    'Factory', 'right/Europe/Berlin'): never a zone to schedule by, even where it loads."""
    folded = name.strip().casefold()
    return folded in _NOT_PLACES or folded.startswith(_NOT_PLACE_FOLDERS)


def resolve_zone(name: str) -> str | None:
    """The canonical IANA name for `name` ('europe/berlin' -> 'Europe/Berlin'), or None when it
    is no zone this machine knows or names no place (`names_no_place`)."""
    name = name.strip()
    # Zone names are short paths of letters, digits and _+-; anything else (a 300-character
    # word makes ZoneInfo raise OSError) is not a zone, whoever typed it.
    if len(name) > _ZONE_NAME_MAX or not _ZONE_NAME.fullmatch(name) or names_no_place(name):
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Readers type zones in any case; the tz database is case-sensitive on Linux.
        return _zone_names_by_folded_case().get(name.casefold())
    return name


def zone_known(name: str) -> bool:
    """Whether this machine's tz database has zone `name` (exactly as written): a stored one may
    have been removed by a tzdata update, or written by hand."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_suggestion(name: str) -> str | None:
    """The IANA zone a bare city most likely means ('berlin' -> 'Europe/Berlin'), or the one a
    posix/ or right/ copy is of ('right/Europe/Berlin' -> 'Europe/Berlin'), or None."""
    city = name.strip().replace(" ", "_").casefold()
    if not city or len(city) > _ZONE_NAME_MAX:
        return None
    if city.startswith(_NOT_PLACE_FOLDERS):
        return resolve_zone(city.split("/", 1)[1])
    matches = sorted(full for folded, full in _zone_names_by_folded_case().items()
                     if folded.rsplit("/", 1)[-1] == city and "/" in folded
                     and not folded.startswith(("etc/", "posix/", "right/")))
    return matches[0] if matches else None


@functools.lru_cache(maxsize=65536)
def occurrence(local_date: dt.date, at: dt.time, zone_name: str) -> dt.datetime:
    """The UTC instant when `at` o'clock happens on `local_date` in the zone.

    A wall time skipped by a spring-forward gap happens at the first instant after the gap
    (02:30 on a Berlin spring-forward day -> 03:00 CEST); a wall time that happens twice on a
    fall-back day happens at its first occurrence.
    """
    zone = ZoneInfo(zone_name)
    wall = dt.datetime.combine(local_date, at)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists (fold=0 picks the earlier of two on a fall-back day)
    # In a gap: fold=1 maps the wall time through the offset after the transition, which lands
    # before the transition; fold=0 lands after it. The transition lies between them.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    before = low.astimezone(zone).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def local_date(instant: dt.datetime, zone_name: str) -> dt.date:
    return instant.astimezone(ZoneInfo(zone_name)).date()


def next_due(at: dt.time, zone_name: str, after: dt.datetime) -> dt.datetime:
    """The first instant strictly after `after` when the daily `at` o'clock comes round."""
    day = local_date(after, zone_name)
    candidate = occurrence(day, at, zone_name)
    if candidate > after:
        return candidate
    return occurrence(day + dt.timedelta(days=1), at, zone_name)


@dataclass(frozen=True, slots=True)
class Due:
    """The briefing for `local_date` (scheduled at `scheduled`) should go out now."""

    local_date: dt.date
    scheduled: dt.datetime


@dataclass(frozen=True, slots=True)
class Missed:
    """The briefing for `local_date` was missed by more than the catch-up window: skip it."""

    local_date: dt.date
    scheduled: dt.datetime
    late_by: dt.timedelta


def decide(
    at: dt.time,
    zone_name: str,
    now: dt.datetime,
    *,
    last_local_date: dt.date | None,
    created_at: dt.datetime,
    catch_up: dt.timedelta,
) -> Due | Missed | None:
    """What to do at `now` for one subscription: send, skip (too late) or nothing yet.

    `last_local_date` is the local date of the last briefing already handled (sent, empty or
    skipped); only the most recent scheduled time matters, so a long outage yields one `Missed`.
    A time that had passed when the subscription was made (or got its current time and zone:
    pass `owed_from`) is not owed.
    """
    day = local_date(now, zone_name)
    scheduled = occurrence(day, at, zone_name)
    if scheduled > now:
        day -= dt.timedelta(days=1)
        scheduled = occurrence(day, at, zone_name)
    if last_local_date is not None and day <= last_local_date:
        return None
    if scheduled < created_at:
        return None
    late_by = now - scheduled
    if late_by < catch_up:
        return Due(day, scheduled)
    return Missed(day, scheduled, late_by)


def owed_from(set_at: dt.datetime, *, from_config: bool, catch_up: dt.timedelta) -> dt.datetime:
    """The `created_at` to give `decide` for a subscription whose schedule was set at `set_at`."""
    if from_config:
        # The operator promised config channels before the bot first saw them, so a first
        # `send-due` a little after the time still owes today's briefing.
        return set_at - catch_up
    return set_at


def next_briefing(
    at: dt.time,
    zone_name: str,
    now: dt.datetime,
    *,
    last_local_date: dt.date | None,
    created_at: dt.datetime,
    catch_up: dt.timedelta,
) -> dt.datetime:
    """When `decide` will next send a briefing: the scheduled time of one due now (it goes out
    at once), else the first upcoming time that is owed. Same arguments as `decide`."""
    def decision(instant: dt.datetime) -> Due | Missed | None:
        return decide(at, zone_name, instant, last_local_date=last_local_date,
                      created_at=created_at, catch_up=catch_up)

    current = decision(now)
    if isinstance(current, Due):
        return current.scheduled
    candidate = now
    for _ in range(3):  # today's is handled or not owed, so tomorrow's is at the latest
        candidate = next_due(at, zone_name, candidate)
        if isinstance(decision(candidate), Due):
            return candidate
    return candidate


class Scheduled(Protocol):
    """What the rules read of a subscription (`store.Subscription` is one)."""

    @property
    def time(self) -> dt.time: ...

    @property
    def timezone(self) -> str: ...

    @property
    def last_local_date(self) -> dt.date | None: ...

    @property
    def owed_from(self) -> dt.datetime: ...

    @property
    def source(self) -> str: ...


def decide_for(sub: Scheduled, now: dt.datetime, *, catch_up: dt.timedelta) -> Due | Missed | None:
    """`decide` for a subscription: its time and zone, the last day it handled, and the
    briefings it is owed since its schedule was set (see `owed_from`)."""
    return decide(sub.time, sub.timezone, now, last_local_date=sub.last_local_date,
                  created_at=_owed_from(sub, catch_up), catch_up=catch_up)


def next_briefing_for(sub: Scheduled, now: dt.datetime, *, catch_up: dt.timedelta) -> dt.datetime:
    """`next_briefing` for a subscription, by the same rule as `decide_for`."""
    return next_briefing(sub.time, sub.timezone, now, last_local_date=sub.last_local_date,
                         created_at=_owed_from(sub, catch_up), catch_up=catch_up)


def _owed_from(sub: Scheduled, catch_up: dt.timedelta) -> dt.datetime:
    return owed_from(sub.owed_from, from_config=sub.source == "config", catch_up=catch_up)


def parse_instant(text: str, default_zone: str) -> dt.datetime:
    """An ISO-8601 instant for `send-due --at`; without an offset it is read in `default_zone`."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_zone))
    return value.astimezone(UTC)
