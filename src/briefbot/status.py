"""`briefbot status`: articles, feeds, subscriptions and the last delivery pass, for a person
(text), a script (`--json`) or a health check (`--check`: what needs a person)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from briefbot.articles import Library
from briefbot.config import Config
from briefbot.daily.schedule import (
    Missed,
    decide_for,
    format_local_time,
    next_briefing_for,
    zone_known,
)
from briefbot.feeds import next_fetch
from briefbot.runstate import PassRecord, RunState
from briefbot.store import Store, Subscription, SubscriptionStore, open_store

# A feed not even tried for this many of its intervals (plus an hour's slack for cron) is
# stale: nothing is fetching it.
STALE_INTERVALS = 3
STALE_SLACK = dt.timedelta(hours=1)
# Skips in a pass older than this no longer raise `--check`: someone has had a day to look.
SKIPS_MATTER_FOR = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Status:
    """Everything `status` shows; `attention` lists what needs a person (empty: all well)."""

    at: dt.datetime
    articles: dict[str, Any]
    feeds: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    delivery: dict[str, Any] | None
    attention: list[str]

    def to_json(self) -> dict[str, Any]:
        """The `status --json` object: articles, feeds, subscriptions, delivery, attention."""
        return {
            "at": _iso(self.at),
            "ok": not self.attention,
            "attention": self.attention,
            "articles": self.articles,
            "feeds": self.feeds,
            "subscriptions": self.subscriptions,
            "delivery": self.delivery,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="seconds")


def collect_status(config: Config, now: dt.datetime) -> Status:
    """Read the content folder and the database (never creating either) at `now`.

    Raises sqlite3.Error / OSError when the database exists but cannot be read.
    """
    attention: list[str] = []
    articles = _articles(config, attention)
    state: RunState | None = None
    store: Store | None = None
    if config.database.exists():
        state = RunState(config.database, create=False)
        store = open_store(config)
    try:
        feeds = _feeds(config, state, now, attention)
        subscriptions = _subscriptions(config, store, now, attention)
        last = state.last_pass() if state is not None else None
    finally:
        if state is not None:
            state.close()
        if store is not None:
            store.close()
    delivery = _delivery(last, now, config, attention)
    return Status(now, articles, feeds, subscriptions, delivery, attention)


def _articles(config: Config, attention: list[str]) -> dict[str, Any]:
    library = Library(config.content_dir)
    report = library.reload()
    newest = library.latest()
    errors = [p for p in report.problems if p.fatal]
    if errors:
        attention.append(f"articles: {len(errors)} file{'s' if len(errors) != 1 else ''} "
                         f"cannot be read (first: {errors[0]}); run `briefbot check`")
    return {
        "folder": str(config.content_dir),
        "count": len(library.articles),
        "newest": None if newest is None else {
            "id": newest.id, "title": newest.title,
            "date": None if newest.date is None else newest.date.isoformat(),
        },
        "problems": [str(p) for p in report.problems],
    }


def _feeds(config: Config, state: RunState | None, now: dt.datetime,
           attention: list[str]) -> list[dict[str, Any]]:
    feeds = []
    for feed in config.feeds:
        record = state.feed_state(feed.name) if state is not None else None
        if record is not None and record.url != feed.url:
            record = None  # the URL changed: what was fetched before says nothing now
        when = next_fetch(feed, record)
        entry: dict[str, Any] = {
            "name": feed.name,
            "url": feed.url,
            "every_minutes": feed.every.total_seconds() / 60,
            "last_fetch": None if record is None else _iso(record.last_attempt_at),
            "last_success": None if record is None else _iso(record.last_ok_at),
            "result": None if record is None else record.result,
            "message": "never fetched" if record is None else record.message,
            "failures_in_a_row": 0 if record is None else record.failures,
            "next_fetch": _iso(when or now),
        }
        feeds.append(entry)
        if record is None or record.last_attempt_at is None:
            attention.append(f"feed {feed.name}: never fetched; run `briefbot fetch` or "
                             "`briefbot run`")
        elif record.result == "failed":
            attention.append(f"feed {feed.name}: the last fetch failed: {record.message}")
        elif now - record.last_attempt_at > feed.every * STALE_INTERVALS + STALE_SLACK:
            attention.append(f"feed {feed.name}: not fetched since {_iso(record.last_attempt_at)}"
                             "; is `briefbot run` (or the fetch cron job) running?")
    return feeds


def _subscriptions(config: Config, store: SubscriptionStore | None, now: dt.datetime,
                   attention: list[str]) -> list[dict[str, Any]]:
    if store is None:
        return []
    rows = []
    for sub in store.subscriptions(include_paused=True):
        rows.append(_subscription(config, sub, now, attention))
    return rows


def _subscription(config: Config, sub: Subscription, now: dt.datetime,
                  attention: list[str]) -> dict[str, Any]:
    who = f"{sub.platform} chat {sub.chat_id}"
    known = zone_known(sub.timezone)
    decision = decide_for(sub, now, catch_up=config.catch_up_window) if known else None
    upcoming = next_briefing_for(sub, now, catch_up=config.catch_up_window) if known else None
    overdue = isinstance(decision, Missed) and sub.paused_reason is None
    if not known:
        attention.append(f"{who}: time zone {sub.timezone!r} is unknown here, so no briefing is "
                         "sent; an admin's /subscribe HH:MM ZONE there (or its config.yaml "
                         "entry) sets a valid one")
    elif sub.paused_reason is not None:
        attention.append(f"{who}: paused: {sub.paused_reason}")
    elif isinstance(decision, Missed):
        attention.append(f"{who}: the {decision.local_date} briefing is overdue by "
                         f"{_duration(decision.late_by)}, past the catch-up window "
                         f"({_duration(config.catch_up_window)}); is the bot running?")
    return {
        "platform": sub.platform,
        "chat": sub.chat_id,
        "time": format_local_time(sub.time),
        "timezone": sub.timezone,
        "source": sub.source,
        "next_briefing": None if sub.paused_reason is not None or upcoming is None
        else _iso(upcoming),
        "last_sent": _iso(sub.last_sent_at),
        "last_article": sub.last_article_id,
        "paused": sub.paused_reason is not None,
        "paused_reason": sub.paused_reason,
        "overdue": overdue,
    }


def _delivery(last: PassRecord | None, now: dt.datetime, config: Config,
              attention: list[str]) -> dict[str, Any] | None:
    if last is None:
        return None
    skipped = last.counts.get("skipped", 0)
    if skipped and now - last.at < SKIPS_MATTER_FOR:
        attention.append(f"delivery: the pass at {_iso(last.at)} skipped {skipped} briefing"
                         f"{'s' if skipped != 1 else ''} missed by more than the catch-up window "
                         f"({_duration(config.catch_up_window)})")
    return {
        "at": _iso(last.at),
        "source": last.source,
        "due": last.counts.get("due", 0),
        "delivered": last.counts.get("delivered", 0),
        "sent": last.counts.get("sent", 0),
        "failed": last.counts.get("failed", 0),
        "skipped": skipped,
        "paused": last.counts.get("paused", 0),
        "still_due": last.still_due,
    }


def _duration(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def render_text(status: Status) -> str:
    """The readable `status`: one section each, and what needs a person last."""
    lines: list[str] = []
    art = status.articles
    newest = art["newest"]
    newest_text = (f"newest {newest['id']} ({newest['date'] or 'undated'}): {newest['title']}"
                   if newest else "none yet")
    lines.append(f"Articles: {art['count']} in {art['folder']}; {newest_text}")
    if art["problems"]:
        lines.append(f"  {len(art['problems'])} problem(s); `briefbot check` lists them")
    lines.append(f"Feeds: {len(status.feeds) or 'none configured'}")
    for feed in status.feeds:
        result = feed["result"] or "never fetched"
        last = feed["last_fetch"] or "-"
        lines.append(f"  {feed['name']}: {result} at {last}; next {feed['next_fetch']}")
        if feed["result"] is not None:
            lines.append(f"    {feed['message']}")
    lines.append(f"Subscriptions: {len(status.subscriptions) or 'none'}")
    for sub in status.subscriptions:
        when = f"{sub['time']} {sub['timezone']}"
        last = sub["last_sent"] or "never"
        if sub["paused"]:
            state = f"PAUSED: {sub['paused_reason']}"
        elif sub["next_briefing"] is None:
            state = "NOT SENT: unknown time zone"
        else:
            state = f"next {sub['next_briefing']}" + (" (OVERDUE)" if sub["overdue"] else "")
        lines.append(f"  {sub['platform']} {sub['chat']} at {when}; {state}; last sent {last}")
    delivery = status.delivery
    if delivery is None:
        lines.append("Last delivery pass: none recorded yet")
    else:
        lines.append(
            f"Last delivery pass: {delivery['at']} ({delivery['source']}): "
            f"{delivery['sent']} message(s) sent, {delivery['failed']} failed, "
            f"{delivery['still_due']} still due, {delivery['skipped']} skipped")
    if status.attention:
        lines.append("Needs attention:")
        lines.extend(f"  - {item}" for item in status.attention)
    else:
        lines.append("All well.")
    return "\n".join(lines)
