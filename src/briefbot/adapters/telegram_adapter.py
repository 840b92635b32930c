"""Telegram adapter: long-polled updates in, rendered HTML replies out, lifecycle driven by hand.

briefbot polls getUpdates itself (python-telegram-bot's Updater confirms what it fetched on its
next poll, before the replies exist, so a stop lost them): the offset it sends only passes an
update once that update is answered or deliberately dropped, so what a stop leaves unanswered
comes back at the next start. PTB still does the Bot API: requests, types, rate limiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import re
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, FloodLimit, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter, ExtBot, Updater
from telegram.request import HTTPXRequest

from briefbot import commands
from briefbot.adapters.telegram_config import TELEGRAM, TELEGRAM_TOKEN_ENV, TelegramConfig
from briefbot.errors import (
    ChatMoved,
    ChatUnavailable,
    ConfigError,
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    TemporaryFailure,
    TopicGone,
)
from briefbot.logs import register_secret
from briefbot.messages import Incoming, Reply
from briefbot.ports import STOP_GRACE_SECONDS, ChatEvents, Handler, OnFatal
from briefbot.render.telegram import TelegramHTML, render_telegram
from briefbot.respond import respond

log = logging.getLogger(__name__)

PLATFORM = TELEGRAM
# The command menu (name, description), from the one list that /help and dispatch use too.
COMMANDS = tuple((command.name, command.menu_line) for command in commands.COMMANDS)
OUR_COMMANDS = frozenset(commands.BY_NAME)
# 5xx and timeouts: tries per message, and the first pause (doubling after each try).
SEND_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.25
# A chat that got a short 429 is held for its retry_after and tried again, this many times at
# most before send_part gives up (RateLimited).
RATE_LIMIT_RETRIES = 3
# The longest 429 waited out inside a send. Longer waits are raised as RateLimited at once and
# the caller leaves that chat due until the time Telegram gave: a send never holds its chat (or
# a delivery worker) for an hour.
MAX_RETRY_AFTER_SECONDS = 30.0
# A sendMessage whose answer did not arrive in time may still have been delivered: it is sent
# once more at most (a reader may then see it twice), and counted.
UNCERTAIN_RETRIES = 1
# Telegram allows about 30 messages a second overall. A send may start only while fewer than
# OVERALL_PER_WINDOW sends are in flight or were *answered* within the last WINDOW_SECONDS: a
# request reaches Telegram before its answer comes back, so no window of that length at
# Telegram ever holds more, whatever the network's jitter (see SendWindow). Pacing by start
# times instead (a leaky bucket at 29.5/s, which had to leave room for jitter) gave 26.6-28.0
# msg/s on bench/broadcast.py; this holds 29+ on loopback, 0 lost and 0 twice.
OVERALL_PER_WINDOW = 30
WINDOW_SECONDS = 1.0
# Telegram's own limit in one group or channel: 20 messages a minute.
GROUP_PER_MINUTE = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP
# Messages of one chat waiting for their turn (with the one being answered); more are dropped
# on arrival, so a flooding chat never holds more than this many of the updates fetched.
MAX_WAITING_PER_CHAT = 16
# Long polling: seconds Telegram holds a getUpdates open, and updates per answer (its maximum).
# Only POLL_LIMIT updates from the oldest one not yet answered can be fetched: a reply that
# takes long holds back fetching once that many have arrived behind it.
POLL_TIMEOUT_SECONDS = 10
POLL_LIMIT = 100
ALLOWED_UPDATES = (Update.MESSAGE,)
# While an update is being answered, getUpdates returns it again at once (the offset cannot
# pass it): after a poll that brought nothing new, the next one waits for an answer to finish
# or REPOLL_SECONDS, and at least MIN_REPOLL_SECONDS, so the loop never spins.
REPOLL_SECONDS = 0.5
MIN_REPOLL_SECONDS = 0.1
# A failed getUpdates (no network, 5xx, 409 another poller): the next try waits FIRST, then
# doubles up to MOST seconds, each wait drawn from its upper half (see Backoff).
POLL_BACKOFF_FIRST_SECONDS = 1.0
POLL_BACKOFF_MOST_SECONDS = 30.0
# At stop, the calls that confirm what was answered and count what is left get this long.
CONFIRM_SECONDS = 2.0
# Telegram keeps an update for 24 hours: a list of answered updates older than that (see
# AnsweredAhead) can name none that comes back, and update ids may start afresh after a week.
ANSWERED_KEPT_SECONDS = 24 * 3600
HTTP_TIMEOUT_SECONDS = 10.0
# Telegram can take tens of seconds to answer sendMessage under load; giving up sooner only
# turns a slow success into a timeout, and a timeout into a message the reader gets twice.
SEND_TIMEOUT_SECONDS = 60.0
ADMIN_STATUSES = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_REJECTED_TOKEN = (
    f"{TELEGRAM_TOKEN_ENV} was rejected by the Telegram server; check the token from @BotFather"
)
_CHAT_ID = re.compile(r"-?\d+")
_TOPIC = re.compile(r"\d+")
_TOPIC_GONE = re.compile(r"(?i)message thread not found|topic_closed|topic_deleted")
# Groups and channels kept apart by the group limiter before idle ones are forgotten.
_MAX_GROUP_LIMITERS = 512


# --- token redaction -------------------------------------------------------------------------


def install_token_redaction(token: str) -> None:
    """Keep the token out of every log line (see briefbot.logs); quiet httpx's request lines.

    httpx logs each request URL, which holds the token, at INFO: the redaction would catch it,
    but the lines are noise in a bot that polls every few seconds.
    """
    register_secret(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)


# --- rate limiting ---------------------------------------------------------------------------


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a 429 asked for, in seconds (PTB 22 warns when `retry_after` is read as int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | dt.timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class SendWindow:
    """At most `count` requests in any `period` seconds, paced by when they were answered.

    A request may start while fewer than `count` are in flight or were answered within the last
    `period` seconds. Any `count + 1` requests that reached the server within `period` of each
    other would break that rule for the last one started, since each arrived before its answer
    came back; so the server never sees more, with no margin needed for network jitter.
    Waiters go in arrival order. `clock` is in seconds (monotonic), `sleep` awaits seconds.
    """

    def __init__(self, count: int, period: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.count = count
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._answered: deque[float] = deque()  # answer times within the window, oldest first
        self._in_flight = 0
        self._turn = asyncio.Lock()
        self._changed = asyncio.Event()

    def _used(self) -> int:
        horizon = self._clock() - self.period
        while self._answered and self._answered[0] <= horizon:
            self._answered.popleft()
        return len(self._answered) + self._in_flight

    async def __aenter__(self) -> None:
        async with self._turn:
            while self._used() >= self.count:
                if self._answered:
                    await self._sleep(self._answered[0] + self.period - self._clock())
                else:  # all `count` in flight: wait for an answer
                    self._changed.clear()
                    await self._changed.wait()
            self._in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        # An error counts too: the request may well have reached the server.
        self._in_flight -= 1
        self._answered.append(self._clock())
        self._changed.set()


class ChatRateLimiter(BaseRateLimiter[int]):
    """Paces requests to chats; a 429 holds only the chat that got it.

    A request that names a chat (`chat_id`) waits while that chat is held, then for its group's
    leaky bucket (`group_per_minute` a minute in a group or channel, aiolimiter as in PTB's
    AIORateLimiter), then for `window` (the bot's overall limit). A 429 of at most `max_wait`
    seconds holds that chat for the `retry_after` Telegram gave and retries, `max_retries`
    times at most (or `rate_limit_args`); then, or at once for a longer wait, the RetryAfter
    goes to the caller, which logs it: nothing here logs above INFO.

    Why per chat: `window` keeps the bot under Telegram's overall limit by itself, so a 429 on
    a request to a chat is that chat's own limit (Telegram limits each group, and each private
    chat, on its own). PTB's AIORateLimiter held every request of the bot for it, so one busy
    group paused all of them. Should Telegram throttle the whole bot after all, each chat stops
    at its own first 429: none waits longer than Telegram asked, for one refused request a chat.
    Requests that name no chat (getMe, setMyCommands) are neither paced nor retried here.
    A chat's hold is timed by `clock` (seconds, monotonic) and waited out with `sleep`.
    """

    def __init__(self, *, max_wait: float = MAX_RETRY_AFTER_SECONDS,
                 window: SendWindow | None = None, max_retries: int = RATE_LIMIT_RETRIES,
                 group_per_minute: float = GROUP_PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self.window = window or SendWindow(OVERALL_PER_WINDOW, WINDOW_SECONDS)
        self.max_retries = max_retries
        self.group_per_minute = group_per_minute
        self._groups: dict[str, AsyncLimiter] = {}
        self._held_until: dict[str, float] = {}  # chat -> monotonic time its 429 ends

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await callback(*args, **kwargs)
        chat = str(chat_id)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._wait_while_held(chat)
            try:
                async with self._group(chat), self.window:
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if wait > self.max_wait or attempt >= retries:
                    raise
                attempt += 1
                self._held_until[chat] = max(self._held_until.get(chat, 0.0),
                                             self._clock() + wait)
                log.info("Telegram chat %s: %s to %s; holding this chat %.0f s (try %d of %d)",
                         chat, exc.message, endpoint, wait, attempt, retries)

    async def _wait_while_held(self, chat: str) -> None:
        while (until := self._held_until.get(chat)) is not None:
            left = until - self._clock()
            if left <= 0:
                del self._held_until[chat]
                return
            await self._sleep(left)

    def _group(self, chat: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """The leaky bucket of a group or channel (a negative id or an @name); none for a
        private chat. Buckets with all their capacity back are forgotten when there are many."""
        private = _CHAT_ID.fullmatch(chat) is not None and not chat.startswith("-")
        if private or not self.group_per_minute:
            return contextlib.nullcontext()
        limiter = self._groups.get(chat)
        if limiter is None:
            if len(self._groups) >= _MAX_GROUP_LIMITERS:
                for key, idle in list(self._groups.items()):
                    if idle.has_capacity(idle.max_rate):
                        del self._groups[key]
            limiter = self._groups[chat] = AsyncLimiter(self.group_per_minute, 60)
        return limiter


def _uncertain(error: NetworkError) -> bool:
    """Whether a failed request may have reached Telegram: a read or write timeout, or the
    connection dropped while the answer was awaited (not a refused connection, a pool timeout
    or an HTTP error status, after which it surely did not arrive)."""
    cause = error.__cause__
    if isinstance(error, TimedOut):
        return not isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)) and (
            "Pool timeout" not in error.message
        )
    return isinstance(cause, (httpx.ReadError, httpx.RemoteProtocolError))


# --- long polling ----------------------------------------------------------------------------


class Backoff:
    """Waits between failed tries: `first` seconds, doubling up to `most`, each drawn at random
    from the upper half of its step (so bots that fail together do not retry in step)."""

    def __init__(self, first: float = POLL_BACKOFF_FIRST_SECONDS,
                 most: float = POLL_BACKOFF_MOST_SECONDS,
                 *, rand: Callable[[], float] = random.random) -> None:
        self.first = first
        self.most = most
        self.failures = 0
        self._rand = rand

    def next(self) -> float:
        """Seconds to wait after one more failure."""
        step = min(self.most, self.first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return step * (0.5 + 0.5 * self._rand())

    def reset(self) -> None:
        self.failures = 0


class UpdateWindow:
    """Which fetched updates are still open, and the getUpdates offset that confirms the rest.

    Telegram forgets every update whose id is below the offset of a getUpdates call and sends
    the others again. An update is `take`n when fetched and `done` once answered or dropped on
    purpose; the offset is the lowest update_id still open (waiting for its chat's turn or
    being answered), else one past the newest fetched. Chats are answered concurrently, so
    answers finish out of order: the offset is that lowest open one, never the newest answered.
    """

    def __init__(self) -> None:
        self._open: set[int] = set()
        self._next = 0  # one past the newest update_id taken
        self.acknowledged = 0  # the last offset Telegram answered a getUpdates for
        self._answered: set[int] = set()  # answered ids Telegram has not forgotten
        self.moved = asyncio.Event()  # set whenever the offset advances

    @property
    def offset(self) -> int:
        """The offset to send: updates below it are answered or dropped (0: nothing taken)."""
        return min(self._open) if self._open else self._next

    @property
    def open(self) -> int:
        """Updates fetched and not yet answered."""
        return len(self._open)

    @property
    def answered_ahead(self) -> frozenset[int]:
        """Answered updates at or above the acknowledged offset: Telegram sends them again."""
        return frozenset(self._answered)

    def is_new(self, update_id: int) -> bool:
        """Whether `update_id` was not taken before (getUpdates returns open ones again)."""
        return update_id >= self._next

    def take(self, update_id: int) -> None:
        self._open.add(update_id)
        self._next = max(self._next, update_id + 1)

    def done(self, update_id: int, *, answered: bool) -> None:
        before = self.offset
        self._open.discard(update_id)
        if answered:
            self._answered.add(update_id)
        if self.offset != before:
            self.moved.set()

    def acknowledge(self, offset: int) -> None:
        """Telegram answered a getUpdates sent with `offset`: it forgot every update below."""
        if offset > self.acknowledged:
            self.acknowledged = offset
            self._answered = {i for i in self._answered if i >= offset}


class AnsweredAhead:
    """The answered updates a stop leaves above the offset, remembered in a small JSON file.

    Telegram sends every update from the offset on again, the answered ones among them (a chat
    answered while an earlier message of another chat was still waiting or being answered).
    The next start skips the ones named here instead of answering them twice. The file holds
    `{"bot_id", "saved_at" (Unix seconds), "update_ids"}`; one of another bot, older than
    ANSWERED_KEPT_SECONDS or unreadable is ignored (at worst some answers are sent twice).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, bot_id: int, now: float) -> tuple[frozenset[int], float]:
        """The update ids answered before the last stop, and when they were saved (Unix
        seconds); no ids if there are none, or none usable at `now`."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return frozenset(), now
        except (OSError, ValueError) as exc:
            log.warning("Telegram: cannot read %s (%s); messages answered before the last stop "
                        "may be answered again", self.path, exc)
            return frozenset(), now
        ids = saved.get("update_ids") if isinstance(saved, dict) else None
        saved_at = saved.get("saved_at") if isinstance(saved, dict) else None
        if (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)
                or not isinstance(saved_at, (int, float)) or saved.get("bot_id") != bot_id
                or not 0 <= now - saved_at <= ANSWERED_KEPT_SECONDS):
            return frozenset(), now
        return frozenset(ids), float(saved_at)

    def save(self, bot_id: int, update_ids: frozenset[int], saved_at: float) -> bool:
        """Replace the file with `update_ids`, answered since `saved_at` (Unix seconds; none:
        remove the file); False (logged) if that failed."""
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            if not update_ids:
                self.path.unlink(missing_ok=True)
                return True
            partial.write_text(json.dumps({"bot_id": bot_id, "saved_at": saved_at,
                                           "update_ids": sorted(update_ids)}), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a half-written or stranded copy goes too
                partial.unlink(missing_ok=True)
            log.warning("Telegram: cannot write %s (%s); %d messages answered before this stop "
                        "will be answered again at the next start", self.path, exc,
                        len(update_ids))
            return False
        return True


@dataclass(frozen=True, slots=True)
class _Job:
    """One message to answer: its update, what the core sees, and what the replies answer."""

    update_id: int
    incoming: Incoming
    message: Message


# --- the adapter -----------------------------------------------------------------------------


class TelegramAdapter:
    """Serves one bot: private chats and groups (commands, mentions, replies); posts to channels.

    Chats are answered concurrently, each chat's messages in order. `stop()` stops fetching,
    gives the replies in progress `stop_grace` seconds, confirms what was answered and leaves
    the rest at Telegram, which sends it again at the next start.
    """

    platform = PLATFORM

    def __init__(
        self,
        config: TelegramConfig,
        handler: Handler,
        events: ChatEvents | None = None,
        *,
        receive: bool = True,
        backoff_seconds: float = FIRST_BACKOFF_SECONDS,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        stop_grace: float = STOP_GRACE_SECONDS,
        poll_backoff: Backoff | None = None,
        on_fatal: OnFatal | None = None,
        answered_file: Path | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.events = events
        self.receive = receive
        self.backoff_seconds = backoff_seconds
        self.send_timeout = send_timeout
        self.max_retry_after = max_retry_after
        self.stop_grace = stop_grace  # seconds that replies in progress get at stop
        self.poll_backoff = poll_backoff or Backoff()
        # Told once when the bot cannot go on (the token was revoked while running).
        self.on_fatal = on_fatal
        # Where a stop remembers the updates it answered above the offset (None: nowhere, so
        # the next start answers those again).
        self.answered = AnsweredAhead(answered_file) if answered_file is not None else None
        self._answered_before: frozenset[int] = frozenset()  # loaded at start
        self._answered_before_at = 0.0  # when those were saved (Unix seconds)
        # Sends retried after a timeout that may have delivered them: possible duplicates.
        self.resent_after_timeout = 0
        self._bot: ExtBot[int] | None = None
        self._requests: tuple[HTTPXRequest, ...] = ()
        self._window = UpdateWindow()
        self._queues: dict[str, deque[_Job]] = {}  # chat -> its messages, the one answered first
        self._workers: dict[str, asyncio.Task[None]] = {}  # chat -> the task answering it
        self._poller: asyncio.Task[None] | None = None
        self._updater: Updater | None = None  # webhook mode only: PTB's small web server
        self._stopping = False
        if config.token is not None:
            install_token_redaction(config.token.reveal())

    @property
    def username(self) -> str:
        """The bot's @username (without the @), known once started."""
        username: str = self._running_bot().username
        return username

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe); with `receive`, set the command menu and start receiving.

        Raises ConfigError for a rejected token or a webhook port in use, TemporaryFailure when
        the Bot API cannot be reached (the app retries that).
        """
        if self._bot is not None:
            return
        if self.config.token is None:
            raise ConfigError(f"{TELEGRAM_TOKEN_ENV} is not set; get a token from @BotFather")
        bot = self._build(self.config.token.reveal())
        try:
            await bot.initialize()
        except InvalidToken:
            await self._close_requests()
            raise ConfigError(_REJECTED_TOKEN) from None
        except TelegramError as exc:
            await self._close_requests()
            raise self._unreachable(exc) from None
        except BaseException:  # cancelled: a stop while Telegram was slow to answer
            await self._close_requests()
            raise
        self._bot = bot
        self._stopping = False
        self._window = UpdateWindow()
        if not self.receive:
            return
        if self.answered is not None and self.config.webhook is None:
            self._answered_before, self._answered_before_at = self.answered.load(bot.id,
                                                                                 time.time())
        try:
            await self._serve(bot)
        except BaseException:
            await self.stop()  # never leave a half-started bot behind
            raise

    def _unreachable(self, exc: TelegramError) -> TemporaryFailure:
        where = self.config.base_url or "https://api.telegram.org"
        return TemporaryFailure(
            f"cannot reach the Telegram Bot API at {where} ({exc.message}); check the network "
            "and telegram.base_url"
        )

    async def _serve(self, bot: ExtBot[int]) -> None:
        """The command menu, then long polling or the webhook server."""
        await self._set_commands()
        webhook = self.config.webhook
        if webhook is None:
            try:
                # Polling and a webhook exclude each other: a webhook left from an earlier
                # configuration goes (its pending updates stay, for getUpdates to fetch).
                await bot.delete_webhook(drop_pending_updates=False)
            except InvalidToken:
                raise ConfigError(_REJECTED_TOKEN) from None
            except TelegramError as exc:
                raise self._unreachable(exc) from None
            self._poller = asyncio.create_task(self._poll(bot), name="telegram-polling")
            self._poller.add_done_callback(_log_unexpected_end)
        else:
            updates: asyncio.Queue[object] = asyncio.Queue()
            self._updater = Updater(bot, updates)
            await self._updater.initialize()
            try:
                await self._updater.start_webhook(
                    listen=webhook.listen,
                    port=webhook.port,
                    url_path=webhook.path,
                    webhook_url=webhook.url,
                    allowed_updates=list(ALLOWED_UPDATES),
                    secret_token=webhook.secret_token.reveal() if webhook.secret_token else None,
                )
            except OSError as exc:
                raise ConfigError(
                    f"telegram.webhook: cannot listen on {webhook.listen}:{webhook.port} "
                    f"({exc.strerror}); pick a free port or address"
                ) from None
            except InvalidToken:
                raise ConfigError(_REJECTED_TOKEN) from None
            except BadRequest as exc:  # setWebhook refused: the URL or the secret is wrong
                raise ConfigError(
                    f"telegram.webhook: Telegram refused the webhook ({exc.message}); check "
                    "telegram.webhook.url (a public https:// address Telegram can resolve and "
                    "reach) and secret_token (1-256 letters, digits, _ or -)"
                ) from None
            except TelegramError as exc:  # no network, 5xx: the app tries the start again
                raise self._unreachable(exc) from None
            self._poller = asyncio.create_task(self._take_pushed(updates), name="telegram-webhook")
            self._poller.add_done_callback(_log_unexpected_end)
        log.info("Telegram: serving as @%s (%s)", bot.username,
                 "webhook" if webhook else "long polling")

    async def stop(self) -> None:
        """Stop fetching, give replies in progress `stop_grace` seconds, confirm what was
        answered, close. Safe to call twice.

        Long polling leaves every update it did not answer at Telegram for the next start (a
        message waiting for its chat's turn is not started), and remembers in `answered_file`
        the answered ones Telegram will send again. With a webhook, the messages received are
        answered within the grace; those left are lost (Telegram counts them delivered)."""
        bot = self._bot
        if bot is None or self._stopping:
            return
        self._stopping = True
        polled = self._poller is not None and self._updater is None
        try:
            await self._stop_receiving()
            cut = await self._finish_replies()
            if polled:
                await self._confirm(bot, cut)
        finally:
            self._bot = None
            self._queues.clear()
            await bot.shutdown()

    async def _stop_receiving(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            # A long poll in flight is dropped: whatever it fetched is not confirmed, so it
            # comes back at the next start.
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        updater, self._updater = self._updater, None
        if updater is not None and updater.running:
            await updater.stop()

    async def _finish_replies(self) -> int:
        """Let the replies in progress finish, for `stop_grace` seconds at most; -> how many
        were cut off then."""
        workers = list(self._workers.values())
        if not workers:
            return 0
        _done, pending = await asyncio.wait(workers, timeout=self.stop_grace)
        for worker in pending:
            worker.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("Telegram: stopped after %.0f s with %d replies still in progress; %s",
                        self.stop_grace, len(pending),
                        "those chats get no answer" if self.config.webhook else
                        "those messages come back at the next start")
        return len(pending)

    async def _confirm(self, bot: ExtBot[int], cut: int) -> None:
        """Confirm the answered updates (one getUpdates that fetches nothing new: timeout 0,
        limit 1), remember the answered ones Telegram will send again, and log what is left."""
        window = self._window
        offset = window.offset
        left: int | None = None
        try:
            async with asyncio.timeout(CONFIRM_SECONDS):
                await bot.get_updates(offset=offset or None, limit=1, timeout=0)
                window.acknowledge(offset)
                left = (await bot.get_webhook_info()).pending_update_count
        except Exception as exc:  # also an update at the offset PTB cannot read (KeyError)
            why = (exc.message if isinstance(exc, TelegramError) else "no answer in time"
                   if isinstance(exc, TimeoutError) else f"unreadable answer: {exc!r}")
            log.warning("Telegram: could not confirm the answered messages at stop (%s); the "
                        "next start fetches them again from update %d on",
                        why, window.acknowledged)
        # Those answered before the last stop and not fetched since are still to be skipped.
        carried = {i for i in self._answered_before if i >= window.acknowledged}
        ahead = window.answered_ahead | carried
        old = bool(ahead & self._answered_before)
        remembered = self.answered is not None and self.answered.save(
            bot.id, ahead, self._answered_before_at if old else time.time())
        if not ahead:
            note = ""
        elif remembered:
            note = f"; the {len(ahead)} answered ones among them will be skipped"
        else:
            note = f"; the {len(ahead)} answered ones among them will be answered again"
        log.log(logging.WARNING if cut or (ahead and not remembered) else logging.INFO,
                "Telegram: stopped; %s updates left for the next start (%d fetched but not "
                "answered)%s", "some" if left is None else left, window.open, note)

    def _build(self, token: str) -> ExtBot[int]:
        self._requests = (
            HTTPXRequest(connection_pool_size=64, read_timeout=self.send_timeout,
                         write_timeout=HTTP_TIMEOUT_SECONDS),
            # Two connections: the last getUpdates at stop must not wait for a cancelled one.
            HTTPXRequest(connection_pool_size=2, read_timeout=HTTP_TIMEOUT_SECONDS),
        )
        options: dict[str, Any] = {}
        if self.config.base_url:
            options["base_url"] = self.config.base_url
        if self.config.base_file_url:
            options["base_file_url"] = self.config.base_file_url
        return ExtBot(
            token,
            request=self._requests[0],
            get_updates_request=self._requests[1],
            rate_limiter=ChatRateLimiter(max_wait=self.max_retry_after),
            **options,
        )

    async def _close_requests(self) -> None:
        """Close the HTTP clients of a bot whose initialize() failed half-way."""
        for request in self._requests:
            with contextlib.suppress(Exception):
                await request.shutdown()

    def _running_bot(self) -> ExtBot[int]:
        if self._bot is None:
            raise RuntimeError("TelegramAdapter used before start()")
        return self._bot

    async def _set_commands(self) -> None:
        try:
            await self._running_bot().set_my_commands(
                [BotCommand(name, description) for name, description in COMMANDS]
            )
        except TelegramError as exc:  # the menu is a convenience; the bot works without it
            log.warning("Telegram: could not set the command menu: %s", exc.message)

    # --- fetching ----------------------------------------------------------------------------

    async def _poll(self, bot: ExtBot[int]) -> None:
        """Long-poll getUpdates until cancelled; the offset confirms only what is done."""
        window = self._window
        backoff = self.poll_backoff
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            window.moved.clear()
            offset = window.offset
            try:
                updates, unreadable = await self._fetch(bot, offset)
            except InvalidToken:
                log.error("Telegram: %s; stopping", _REJECTED_TOKEN)
                if self.on_fatal is not None:
                    self.on_fatal(ConfigError(_REJECTED_TOKEN))
                return
            except Exception as exc:  # any failure: wait, say why, go on
                await asyncio.sleep(self._poll_failed(exc, backoff))
                continue
            window.acknowledge(offset)
            if backoff.failures:
                log.info("Telegram: fetching updates works again")
                backoff.reset()
            fresh = [update for update in updates if window.is_new(update.update_id)]
            for update_id in unreadable:
                if window.is_new(update_id):  # dropped, or it would hold the offset for ever
                    window.take(update_id)
                    window.done(update_id, answered=False)
            for update in fresh:
                self._take(update)
            if fresh:
                continue
            took = loop.time() - began
            if window.open:
                # Only updates still being answered came back: the offset cannot pass them, so
                # Telegram returns them at once. Ask again once one is done (the offset moved)
                # or after REPOLL_SECONDS, and at most every MIN_REPOLL_SECONDS meanwhile.
                if not window.moved.is_set() and took < REPOLL_SECONDS:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(window.moved.wait(), REPOLL_SECONDS - took)
                if window.open:
                    await asyncio.sleep(max(0.0, MIN_REPOLL_SECONDS - (loop.time() - began)))
            elif not updates and took < MIN_REPOLL_SECONDS:
                # Nothing is open, so that was a long poll, which a server should hold: one that
                # answers at once must not make this loop spin.
                await asyncio.sleep(MIN_REPOLL_SECONDS - took)

    async def _fetch(self, bot: ExtBot[int], offset: int) -> tuple[Sequence[Update], list[int]]:
        """One getUpdates from `offset`; -> the updates, and the ids of any PTB cannot read.

        PTB reads a whole answer or raises: one update it cannot read (a field it does not know
        the shape of) would fail every poll from that offset on, and the bot would never answer
        again. Then the same updates are fetched raw (no wait) and read one by one.
        """
        try:
            updates = await bot.get_updates(
                offset=offset or None, limit=POLL_LIMIT,
                timeout=POLL_TIMEOUT_SECONDS, allowed_updates=list(ALLOWED_UPDATES),
            )
        except TelegramError:
            raise
        except Exception:  # PTB could not read the answer (it has logged it)
            pass
        else:
            return updates, []
        with warnings.catch_warnings():  # "use Bot.get_updates instead": it just failed
            warnings.simplefilter("ignore")
            raw = await bot.do_api_request("getUpdates", api_kwargs={
                "offset": offset or None, "limit": POLL_LIMIT, "timeout": 0,
                "allowed_updates": list(ALLOWED_UPDATES)})
        read: list[Update] = []
        unreadable: list[int] = []
        for item in raw if isinstance(raw, list) else ():
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                continue  # nothing to confirm it by; the offset passes it with the next one
            try:
                update = Update.de_json(item, bot)
            except Exception as exc:
                log.warning("Telegram: update %d cannot be read (%s: %s); skipped", update_id,
                            type(exc).__name__, exc)
                unreadable.append(update_id)
                continue
            if update is not None:
                read.append(update)
        return read, unreadable

    def _poll_failed(self, error: Exception, backoff: Backoff) -> float:
        """Log a failed getUpdates; -> seconds to wait before the next one."""
        wait = backoff.next()
        if isinstance(error, RetryAfter):
            wait = max(wait, retry_after_seconds(error))
            log.warning("Telegram: getUpdates was rate-limited (%s); next try in %.1f s",
                        error.message, wait)
        elif isinstance(error, Conflict):
            log.error("Telegram: another process is polling with this bot token (or a webhook "
                      "is set); stop it. %s; next try in %.1f s", error.message, wait)
        elif isinstance(error, TelegramError):
            log.warning("Telegram: fetching updates failed (%s); next try in %.1f s",
                        error.message, wait)
        else:
            log.error("Telegram: fetching updates failed; next try in %.1f s", wait,
                      exc_info=error)
        return wait

    async def _take_pushed(self, updates: asyncio.Queue[object]) -> None:
        """Webhook mode: the updates PTB's web server received, in arrival order."""
        while True:
            update = await updates.get()
            if isinstance(update, Update):
                self._take(update)

    def _take(self, update: Update) -> None:
        """Queue a new update for its chat's turn, or drop it with a log line."""
        update_id = update.update_id
        self._window.take(update_id)
        if update_id in self._answered_before:
            log.debug("Telegram: update %d was answered before the last stop; skipped",
                      update_id)
            self._window.done(update_id, answered=True)
            return
        job = self._job(update)
        if job is None:
            self._window.done(update_id, answered=False)
            return
        chat_id = job.incoming.chat_id
        queue = self._queues.setdefault(chat_id, deque())
        if len(queue) >= MAX_WAITING_PER_CHAT:
            # A chat flooding faster than it is answered (a slow reader model makes this easy)
            # must not fill the updates every other chat needs fetched.
            log.info("Telegram chat %s: %d messages already waiting; this one is dropped",
                     chat_id, MAX_WAITING_PER_CHAT)
            self._window.done(update_id, answered=False)
            return
        queue.append(job)
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._answer_chat(chat_id),
                                                         name=f"telegram-chat-{chat_id}")

    def _job(self, update: Update) -> _Job | None:
        """What to answer for `update`; None (logged) for anything briefbot does not answer."""
        message = update.message
        if message is None:
            kinds = sorted(set(update.to_dict()) - {"update_id"})
            log.info("Telegram: update %d is %s, which briefbot does not read; skipped",
                     update.update_id, ", ".join(kinds) or "empty")
            return None
        if message.text is None:
            log.debug("Telegram chat %s: update %d holds no text; skipped", message.chat.id,
                      update.update_id)
            return None
        text = self._addressed_text(message)
        if text is None:
            log.debug("Telegram chat %s: update %d is not for this bot; skipped",
                      message.chat.id, update.update_id)
            return None
        topic = _topic_of(message)
        incoming = Incoming(
            platform=PLATFORM,
            chat_id=str(message.chat.id),
            user_id=str(message.from_user.id if message.from_user else message.chat.id),
            text=text,
            chat_kind="private" if message.chat.type == Chat.PRIVATE else "group",
            admin_check=None if message.chat.type == Chat.PRIVATE else self._admin_check(message),
            working=self._typing(message.chat.id, topic),
            thread_id=None if topic is None else str(topic),
        )
        return _Job(update.update_id, incoming, message)

    # --- answering ---------------------------------------------------------------------------

    async def _answer_chat(self, chat_id: str) -> None:
        """Answer one chat's messages in order, until none is left (or the bot stops)."""
        queue = self._queues[chat_id]
        try:
            while queue:
                job = queue[0]
                if self._stopping and self.config.webhook is None:
                    return  # not confirmed: Telegram sends it again at the next start
                try:
                    await respond(job.incoming, self.handler, self.render,
                                  self._replier(job.message), self.events)
                except Exception:  # respond() handles the core's and the platform's failures
                    log.exception("Telegram: handling an update from chat %s failed", chat_id)
                queue.popleft()
                self._window.done(job.update_id, answered=True)
        finally:
            del self._workers[chat_id]
            if not queue:
                self._queues.pop(chat_id, None)

    def _addressed_text(self, message: Message) -> str | None:
        """The text meant for the bot, or None for group talk that does not address it."""
        text = message.text or ""
        bot = self._running_bot()
        username: str = bot.username
        command = _leading_command(message)
        if command is not None:
            name, _, target = command.partition("@")
            if target and target.lower() != username.lower():
                return None  # "/latest@OtherBot" is for another bot in the group
            known = name.lstrip("/").lower() in OUR_COMMANDS
            if not target and not known and message.chat.type != Chat.PRIVATE:
                return None  # "/roll 2d6" in a group is for some other bot there
            return name + text[len(command):]
        if message.chat.type == Chat.PRIVATE:
            return text
        if message.chat.type not in (Chat.GROUP, Chat.SUPERGROUP):
            return None
        mentions = message.parse_entities([MessageEntity.MENTION]).values()
        if any(m.lower() == f"@{username.lower()}" for m in mentions):
            return re.sub(rf"(?i)@{re.escape(username)}\b[,:]?\s*", "", text).strip()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and (
            replied.from_user.id == bot.id
        ):
            return text
        return None

    def _admin_check(self, message: Message) -> Callable[[], Awaitable[bool]]:
        chat_id = message.chat.id
        sender = message.from_user
        # An anonymous admin posts as the group itself; only admins can do that.
        anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat_id

        async def check() -> bool:
            if anonymous_admin:
                return True
            if sender is None:
                return False
            try:
                member = await self._running_bot().get_chat_member(chat_id, sender.id)
            except TelegramError as exc:
                log.warning("Telegram chat %s: cannot check admin rights: %s", chat_id,
                            exc.message)
                return False
            return member.status in ADMIN_STATUSES

        return check

    def _typing(self, chat_id: int, topic: int | None) -> Callable[[], Awaitable[None]]:
        """Shows "typing…" in the chat or topic (for 5 s, or until the bot's next message)."""

        async def typing() -> None:
            await self._running_bot().send_chat_action(chat_id, ChatAction.TYPING,
                                                       message_thread_id=topic)

        return typing

    def _replier(self, message: Message) -> Callable[[Reply, TelegramHTML], Awaitable[None]]:
        """Sends the parts of the replies to `message`, each into the asker's forum topic."""
        chat_id = str(message.chat.id)
        # In a group the first part answers the message itself, so the thread stays readable.
        reply_to = message.message_id if message.chat.type != Chat.PRIVATE else None
        # In a forum every part goes into the asker's topic: only the first is a reply, and a
        # message that is not a reply and names no topic lands in General.
        topic = _topic_of(message)

        async def send(_reply: Reply, html: TelegramHTML) -> None:
            nonlocal reply_to
            try:
                await self._send(chat_id, html, reply_to, topic)
            except TopicGone:
                # The asker's topic closed under the reply: that reply is lost, but the chat
                # (and its daily briefing, perhaps in another topic) is fine.
                raise DeliveryError(f"the forum topic {topic} was closed or deleted") from None
            reply_to = None

        return send

    # --- rendering and sending ---------------------------------------------------------------

    def render(self, reply: Reply) -> Sequence[TelegramHTML]:
        return render_telegram(reply)

    async def send_part(
        self, chat_id: str, part: TelegramHTML, *, thread_id: str | None = None
    ) -> None:
        """Send one HTML message; failures become ChatUnavailable, ChatMoved or TemporaryFailure."""
        topic = int(thread_id) if thread_id is not None and _TOPIC.fullmatch(thread_id) else None
        await self._send(chat_id, part, None, topic)

    async def _send(self, chat_id: str, html: TelegramHTML, reply_to: int | None,
                    topic: int | None = None) -> None:
        bot = self._running_bot()
        target: int | str = int(chat_id) if _CHAT_ID.fullmatch(chat_id) else chat_id
        reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None else None
        )
        delay = self.backoff_seconds
        uncertain = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                await bot.send_message(
                    target, html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                    reply_parameters=reply, message_thread_id=topic,
                )
                return
            except Forbidden as exc:
                raise ChatUnavailable(chat_id, exc.message) from None
            except ChatMigrated as exc:
                raise ChatMoved(chat_id, str(exc.new_chat_id)) from None
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if wait > self.max_retry_after:
                    raise RateLimited(
                        f"Telegram asked to wait {wait:.0f} s before the next message "
                        f"(429 Too Many Requests)", wait,
                    ) from None
                raise RateLimited(
                    f"Telegram rate limit still in force after {RATE_LIMIT_RETRIES} waits "
                    f"({exc.message})", wait,
                ) from None
            except BadRequest as exc:  # before NetworkError: BadRequest is a subclass of it
                if "chat not found" in exc.message.lower():
                    raise ChatUnavailable(chat_id, "chat not found") from None
                if topic is not None and _TOPIC_GONE.search(exc.message):
                    # Sending to General instead would surprise the forum; pause and say why.
                    raise TopicGone(
                        chat_id, f"its forum topic {topic} was deleted or closed; an admin's "
                        "/subscribe in a topic (or in General) resumes the briefing there",
                    ) from None
                raise DeliveryError(f"Telegram refused the message: {exc.message}") from None
            except NetworkError as exc:  # TimedOut included
                if _uncertain(exc):
                    # The message may be in the chat already: once more at most, and counted.
                    if uncertain >= UNCERTAIN_RETRIES:
                        raise OutcomeUnknown(
                            f"Telegram did not answer twice ({exc.message}); the message may "
                            "or may not have arrived"
                        ) from None
                    uncertain += 1
                    self.resent_after_timeout += 1
                    log.warning("Telegram chat %s: no answer to sendMessage (%s); sending once "
                                "more, so it may arrive twice", chat_id, exc.message)
                    continue
                await self._backoff(chat_id, exc, attempt, delay)
                delay *= 2
            except TelegramError as exc:
                raise DeliveryError(f"Telegram refused the message: {exc.message}") from None

    async def _backoff(self, chat_id: str, error: TelegramError, attempt: int,
                       delay: float) -> None:
        """Wait before retrying a send that surely did not arrive (5xx, no connection)."""
        if attempt >= SEND_ATTEMPTS:
            raise TemporaryFailure(
                f"Telegram failed {SEND_ATTEMPTS} times: {error.message}"
            ) from None
        log.info("Telegram chat %s: send failed (%s); retrying in %.2f s",
                 chat_id, error.message, delay)
        await asyncio.sleep(delay)


def _topic_of(message: Message) -> int | None:
    """The forum topic a message was written in; None outside forums and in General.

    Outside forums `message_thread_id` also marks reply threads, which are not send targets.
    """
    return message.message_thread_id if message.is_topic_message else None


def _leading_command(message: Message) -> str | None:
    """'/latest@BotName' when the message starts with a bot command, else None."""
    entities = message.entities
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset:
        return None
    return message.parse_entity(entities[0])



def _log_unexpected_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Telegram: %s stopped: %r", task.get_name(), error, exc_info=error)
