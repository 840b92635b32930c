"""/subscribe, /unsubscribe and /status, and what the platforms tell us about chats."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from briefbot.config import Config
from briefbot.daily.schedule import (
    format_local_time,
    names_no_place,
    next_briefing_for,
    parse_local_time,
    resolve_zone,
    zone_suggestion,
)
from briefbot.messages import Incoming, Notice, Reply
from briefbot.ports import Clock, utc_now
from briefbot.store import Subscription, SubscriptionStore

log = logging.getLogger(__name__)

EXAMPLE = "/subscribe 07:30 Europe/Berlin"


def format_local(instant: dt.datetime, zone_name: str) -> str:
    """'Thu 26 Nov 07:30' in the chat's own zone."""
    local = instant.astimezone(ZoneInfo(zone_name))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


class SubscriptionService:
    """The daily-briefing commands for every platform; implements SubscriptionCommands and
    ChatEvents.

    `on_change` is called after any change, so the delivery loop can look again at once.
    """

    def __init__(
        self,
        store: SubscriptionStore,
        default_timezone: str,
        on_change: Callable[[], None] = lambda: None,
        *,
        clock: Clock = utc_now,
        catch_up: dt.timedelta = dt.timedelta(hours=2),
    ) -> None:
        self._store = store
        self._default_zone = default_timezone
        self._on_change = on_change
        self._clock = clock
        self._catch_up = catch_up  # the delivery loop's window (config `catch_up_window`)

    async def subscribe(self, incoming: Incoming, args: str) -> Sequence[Reply]:
        if incoming.platform == "console":
            # Nothing delivers to a terminal: a stored console subscription would only show up
            # in `status` as overdue, forever.
            return [_console_has_no_briefings()]
        schedule = self._schedule(args)
        if isinstance(schedule, Notice):
            return [schedule]
        if not await incoming.is_admin():
            return [_refusal()]
        at, zone = schedule
        before = self._store.subscription(incoming.platform, incoming.chat_id)
        if before is not None and before.source == "config":
            return [_set_in_config("change")]
        sub = self._store.subscribe(
            incoming.platform, incoming.chat_id, at, zone, created_by=incoming.user_id,
            now=self._clock(), thread_id=incoming.thread_id,
        )
        self._on_change()
        log.info("%s chat %s subscribed at %s %s by %s", incoming.platform, incoming.chat_id,
                 format_local_time(at), zone, incoming.user_id)
        return [Notice(_subscribed(before, f"{format_local_time(at)} ({zone})"),
                       items=(f"Next briefing: {self._next(sub)}",), title="Daily briefing")]

    def _schedule(self, args: str) -> tuple[dt.time, str] | Notice:
        """The local time and IANA zone in "/subscribe HH:MM [Area/City]", or what is wrong."""
        words = args.split()
        if not words:
            return self._usage("Tell me the time for the daily briefing.")
        at = parse_local_time(words[0])
        if at is None:
            return self._usage(f"“{_clip(words[0])}” is not a time of day; write it as HH:MM.")
        if len(words) > 2:
            return self._usage(_too_many(words))
        zone = self._default_zone if len(words) == 1 else resolve_zone(words[1])
        if zone is None:
            return self._usage(_not_a_zone(words[1]))
        return at, zone

    async def unsubscribe(self, incoming: Incoming) -> Sequence[Reply]:
        if incoming.platform == "console":
            return [_console_has_no_briefings()]
        current = self._store.subscription(incoming.platform, incoming.chat_id)
        if current is None:
            return [Notice("This chat has no daily briefing. Start one with " + EXAMPLE + ".")]
        if current.source == "config":
            # Deleting it would last only until the next start re-creates it, history wiped.
            return [_set_in_config("stop")]
        if not await incoming.is_admin():
            return [_refusal()]
        self._store.unsubscribe(incoming.platform, incoming.chat_id)
        self._on_change()
        log.info("%s chat %s unsubscribed by %s", incoming.platform, incoming.chat_id,
                 incoming.user_id)
        return [Notice("Unsubscribed: no more daily briefings here. /subscribe brings them back.")]

    async def status(self, incoming: Incoming) -> Sequence[Reply]:
        if incoming.platform == "console":
            return [_console_has_no_briefings()]
        sub = self._store.subscription(incoming.platform, incoming.chat_id)
        if sub is None:
            return [Notice("This chat has no daily briefing. An admin can start one with "
                           + EXAMPLE + ".")]
        items = [f"Time: {format_local_time(sub.time)} ({sub.timezone})"]
        if sub.paused_reason is not None and sub.source == "config":
            items.append(f"Paused: {sub.paused_reason}. This chat's briefing is set in "
                         "config.yaml: it resumes when the bot restarts, once the bot's rights "
                         "here are fixed.")
        elif sub.paused_reason is not None:
            items.append(f"Paused: {sub.paused_reason}. An admin's /subscribe resumes it.")
        else:
            items.append(f"Next briefing: {self._next(sub)}")
        if sub.last_sent_at is not None:
            last = format_local(sub.last_sent_at, sub.timezone)
            items.append(f"Last briefing: {last}" + (
                f" ({sub.last_article_id})" if sub.last_article_id else ""))
        else:
            items.append("Last briefing: none yet")
        return [Notice("Daily briefing for this chat", items=tuple(items), title="Status")]

    # ChatEvents

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None:
        self._store.pause(platform, chat_id, reason)
        log.warning("%s chat %s: daily briefing paused: %s", platform, chat_id, reason)
        self._on_change()

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        self._store.move_chat(platform, chat_id, new_chat_id)
        log.info("%s chat %s moved to %s", platform, chat_id, new_chat_id)
        self._on_change()

    def _next(self, sub: Subscription) -> str:
        # The delivery loop's own rule (`decide`), so the reply never promises what it won't do.
        when = next_briefing_for(sub, self._clock(), catch_up=self._catch_up)
        return f"{format_local(when, sub.timezone)} ({sub.timezone})"

    def _usage(self, problem: str) -> Notice:
        return Notice(
            f"{problem} For example: {EXAMPLE} (the zone is optional; "
            f"without it I use {self._default_zone}).",
            is_error=True,
        )


def _subscribed(before: Subscription | None, when: str) -> str:
    """What /subscribe did, given the subscription there was before it."""
    if before is None:
        return f"Subscribed: a daily briefing at {when}."
    if before.paused_reason is not None:
        return f"Resumed: the daily briefing comes at {when} again."
    return f"Changed: the daily briefing now comes at {when}."


def _refusal() -> Notice:
    return Notice("Sorry, only this chat's admins can change its daily briefing. "
                  "/status shows the current one.", is_error=True)


def _set_in_config(verb: str) -> Notice:
    # A command's change would last only until the next start re-applies config.yaml.
    how = "change it there" if verb == "change" else "remove it there"
    return Notice(f"This chat's daily briefing is set in config.yaml; {how} (and restart the "
                  f"bot) to {verb} it.", is_error=True)


def _not_a_zone(word: str) -> str:
    """Why `word` is no zone to schedule by: unknown here, or a tz name that is no place."""
    guess = zone_suggestion(word)
    hint = f" Did you mean {guess}?" if guess else ""
    if names_no_place(word):
        return f"“{_clip(word)}” is not a place's time zone; use Area/City, like Europe/Berlin." \
            + hint
    return f"“{_clip(word)}” is not a time zone I know; use Area/City." + hint


def _too_many(words: list[str]) -> str:
    """What is wrong with "/subscribe HH:MM" followed by more than one word: a second time or
    zone, a zone written with a space, or words that are neither."""
    times = [word for word in words if parse_local_time(word) is not None]
    if len(times) > 1:
        return (f"That is more than one time ({_clip(', '.join(times))}); a chat gets one daily "
                "briefing, so give one.")
    rest = words[1:]
    resolved = [(word, resolve_zone(word)) for word in rest]
    zones = [zone for _, zone in resolved if zone is not None]
    if len(zones) > 1:
        return f"That is more than one time zone ({_clip(', '.join(zones), 80)}); give one."
    if not zones:
        written = " ".join(rest)
        guess = zone_suggestion(written)
        if guess is not None:  # "New York": a zone written as a place name, with its space
            return (f"“{_clip(written)}” is not a time zone I know; use Area/City. "
                    f"Did you mean {guess}?")
    extra = [word for word, zone in resolved if zone is None]
    if len(extra) == 1:
        return (f"“{_clip(extra[0])}” is one word too many: after the time, give at most one "
                "time zone.")
    return (f"“{_clip(' '.join(extra))}” is more than I need: after the time, give at most one "
            "time zone.")


def _clip(word: str, limit: int = 40) -> str:
    """What the person typed, short enough to echo back."""
    return word if len(word) <= limit else word[: limit - 1] + "…"


def sync_config_subscriptions(store: SubscriptionStore, config: Config, now: dt.datetime) -> None:
    """Upsert every channel each platform's section of config.yaml lists; drop config
    subscriptions no longer listed."""
    for settings in config.platforms:
        store.sync_config_channels(settings.platform, settings.channels, now)


def _console_has_no_briefings() -> Notice:
    """What /subscribe, /status and /unsubscribe answer in the console chat, which nothing
    delivers to: where daily briefings do go, and how to get there (a token, then a chat)."""
    from briefbot.platforms import PLATFORMS  # names them all; loaded only here

    names = " and ".join(p.title for p in PLATFORMS)
    tokens = " or ".join(p.token_env for p in PLATFORMS)
    return Notice(f"Daily briefings go to {names} chats, not to this console; here, /latest "
                  f"shows the newest. To get one, set {tokens} and run briefbot again, then "
                  f"send {EXAMPLE} in that chat (or list a channel in config.yaml).",
                  is_error=True)
