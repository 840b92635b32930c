"""Daily briefing times: DST days, catch-up and skipping, parsing what admins type."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from briefbot.daily.schedule import (
    Due,
    Missed,
    decide,
    next_briefing,
    next_due,
    occurrence,
    parse_instant,
    parse_local_time,
    resolve_zone,
)

UTC = dt.UTC
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


def briefing_instants(at: dt.time, zone: str, start: dt.datetime, days: int) -> list[dt.datetime]:
    """Walk a subscription forward minute by minute of schedule, collecting when it fires."""
    fired = []
    after = start
    end = start + dt.timedelta(days=days)
    while (after := next_due(at, zone, after)) < end:
        fired.append(after)
    return fired


@pytest.mark.parametrize(
    ("zone", "day", "expected_local"),
    [
        (BERLIN, dt.date(2026, 3, 29), (2026, 3, 29, 3, 0)),
        (NEW_YORK, dt.date(2026, 3, 8), (2026, 3, 8, 3, 0)),
    ],
)
def test_spring_forward_0230_goes_out_at_0300(
    zone: str, day: dt.date, expected_local: tuple[int, ...]
) -> None:
    fired = occurrence(day, dt.time(2, 30), zone)
    assert fired == local(zone, *expected_local)
    assert fired.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "03:00"


@pytest.mark.parametrize(
    ("zone", "day"), [(BERLIN, dt.date(2026, 3, 29)), (NEW_YORK, dt.date(2026, 3, 8))]
)
def test_spring_forward_day_gets_exactly_one_briefing(zone: str, day: dt.date) -> None:
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), ZoneInfo(zone))
    fired = briefing_instants(dt.time(2, 30), zone, start, days=3)
    assert [f.astimezone(ZoneInfo(zone)).date() for f in fired] == [
        day, day + dt.timedelta(days=1), day + dt.timedelta(days=2)
    ]


@pytest.mark.parametrize(
    ("zone", "day"), [(BERLIN, dt.date(2026, 10, 25)), (NEW_YORK, dt.date(2026, 11, 1))]
)
def test_fall_back_0130_and_0230_go_out_once_at_the_first(zone: str, day: dt.date) -> None:
    repeated = dt.time(2, 30) if zone == BERLIN else dt.time(1, 30)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), ZoneInfo(zone))
    fired = briefing_instants(repeated, zone, start, days=2)
    on_the_day = [f for f in fired if f.astimezone(ZoneInfo(zone)).date() == day]
    first = local(zone, day.year, day.month, day.day, repeated.hour, 30, fold=0)
    # Compared in UTC: Python never calls a repeated wall time equal across zones.
    assert on_the_day == [first.astimezone(UTC)]
    # The first of the two is the summer-time one.
    assert on_the_day[0].astimezone(ZoneInfo(zone)).dst() != dt.timedelta(0)


def test_fall_back_repeat_hour_belongs_to_the_same_briefing_day() -> None:
    """At the second 02:35 the owed briefing is still the day's one, scheduled at the first 02:30."""
    day = dt.date(2026, 10, 25)
    second_0235 = local(BERLIN, 2026, 10, 25, 2, 35, fold=1)
    window = dt.timedelta(hours=2)
    pending = decide(dt.time(2, 30), BERLIN, second_0235, last_local_date=day - dt.timedelta(1),
                     created_at=LONG_AGO, catch_up=window)
    assert isinstance(pending, Due)
    assert pending.local_date == day
    assert pending.scheduled == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    sent = decide(dt.time(2, 30), BERLIN, second_0235, last_local_date=day,
                  created_at=LONG_AGO, catch_up=window)
    assert sent is None


def test_ordinary_day_briefing_happens_at_local_time() -> None:
    assert occurrence(dt.date(2026, 11, 26), dt.time(7, 30), BERLIN) == dt.datetime(
        2026, 11, 26, 6, 30, tzinfo=UTC
    )


def test_next_due_is_tomorrow_once_todays_time_has_passed() -> None:
    after = local(BERLIN, 2026, 11, 26, 7, 30)
    assert next_due(dt.time(7, 30), BERLIN, after) == local(BERLIN, 2026, 11, 27, 7, 30)


def test_briefing_missed_by_less_than_window_is_due_late() -> None:
    now = local(BERLIN, 2026, 11, 26, 9, 0)
    decision = decide(dt.time(7, 30), BERLIN, now, last_local_date=dt.date(2026, 11, 25),
                      created_at=LONG_AGO, catch_up=dt.timedelta(hours=2))
    assert decision == Due(dt.date(2026, 11, 26), local(BERLIN, 2026, 11, 26, 7, 30))


def test_briefing_missed_by_more_than_window_is_skipped() -> None:
    now = local(BERLIN, 2026, 11, 26, 10, 0)
    decision = decide(dt.time(7, 30), BERLIN, now, last_local_date=dt.date(2026, 11, 25),
                      created_at=LONG_AGO, catch_up=dt.timedelta(hours=2))
    assert isinstance(decision, Missed)
    assert decision.local_date == dt.date(2026, 11, 26)
    assert decision.late_by == dt.timedelta(hours=2, minutes=30)


def test_briefing_already_handled_today_is_not_due() -> None:
    now = local(BERLIN, 2026, 11, 26, 7, 31)
    decision = decide(dt.time(7, 30), BERLIN, now, last_local_date=dt.date(2026, 11, 26),
                      created_at=LONG_AGO, catch_up=dt.timedelta(hours=2))
    assert decision is None


def test_subscribing_after_todays_time_owes_nothing_today() -> None:
    now = local(BERLIN, 2026, 11, 26, 8, 0)
    decision = decide(dt.time(7, 30), BERLIN, now, last_local_date=None,
                      created_at=local(BERLIN, 2026, 11, 26, 7, 45),
                      catch_up=dt.timedelta(hours=2))
    assert decision is None


def test_new_subscription_is_due_at_its_first_time() -> None:
    now = local(BERLIN, 2026, 11, 26, 7, 30)
    decision = decide(dt.time(7, 30), BERLIN, now, last_local_date=None,
                      created_at=local(BERLIN, 2026, 11, 26, 7, 0),
                      catch_up=dt.timedelta(hours=2))
    assert decision == Due(dt.date(2026, 11, 26), now)


@pytest.mark.parametrize(("text", "expected"), [
    ("7:30", dt.time(7, 30)), ("07:30", dt.time(7, 30)), ("23:59", dt.time(23, 59)),
    ("24:00", None), ("7:60", None), ("seven", None), ("", None), ("730", None),
])
def test_admins_can_type_times_with_or_without_leading_zero(
    text: str, expected: dt.time | None
) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Europe/Berlin", BERLIN), ("europe/berlin", BERLIN), ("UTC", "UTC"),
    ("Mars/Olympus", None), ("../etc/passwd", None), ("", None),
])
def test_zone_names_resolve_to_iana_names(text: str, expected: str | None) -> None:
    assert resolve_zone(text) == expected


def test_send_due_at_without_offset_is_read_in_default_zone() -> None:
    assert parse_instant("2026-11-26T07:30", BERLIN) == dt.datetime(
        2026, 11, 26, 6, 30, tzinfo=UTC
    )
    assert parse_instant("2026-11-26T07:30+00:00", BERLIN) == dt.datetime(
        2026, 11, 26, 7, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("now", "last_local_date", "created_at", "expected"),
    [
        # Changed at 10:00 to 09:00: today's 09:00 was before the change, so tomorrow.
        (local(BERLIN, 2026, 11, 26, 10, 0), None, local(BERLIN, 2026, 11, 26, 10, 0),
         local(BERLIN, 2026, 11, 27, 9, 0)),
        # Already handled today: tomorrow, though today's time is still ahead.
        (local(BERLIN, 2026, 11, 26, 8, 0), dt.date(2026, 11, 26), LONG_AGO,
         local(BERLIN, 2026, 11, 27, 9, 0)),
        # Ahead today and owed: today.
        (local(BERLIN, 2026, 11, 26, 8, 0), dt.date(2026, 11, 25), LONG_AGO,
         local(BERLIN, 2026, 11, 26, 9, 0)),
        # Missed by more than the window: not sent, so tomorrow.
        (local(BERLIN, 2026, 11, 26, 12, 0), dt.date(2026, 11, 25), LONG_AGO,
         local(BERLIN, 2026, 11, 27, 9, 0)),
        # Late but within the window: it goes out now, at today's scheduled time.
        (local(BERLIN, 2026, 11, 26, 10, 0), dt.date(2026, 11, 25), LONG_AGO,
         local(BERLIN, 2026, 11, 26, 9, 0)),
    ],
)
def test_next_briefing_is_what_decide_will_send(
    now: dt.datetime, last_local_date: dt.date | None, created_at: dt.datetime,
    expected: dt.datetime,
) -> None:
    rules = {"last_local_date": last_local_date, "created_at": created_at,
             "catch_up": dt.timedelta(hours=2)}
    when = next_briefing(dt.time(9, 0), BERLIN, now, **rules)  # type: ignore[arg-type]
    assert when == expected
    assert isinstance(decide(dt.time(9, 0), BERLIN, max(when, now), **rules), Due)  # type: ignore[arg-type]
    if when > now:
        just_before = when - dt.timedelta(minutes=1)
        before = decide(dt.time(9, 0), BERLIN, just_before, **rules)  # type: ignore[arg-type]
        assert not isinstance(before, Due)
