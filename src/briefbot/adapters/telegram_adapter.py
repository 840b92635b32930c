"""Telegram adapter: PTB updates in, rendered HTML replies out, lifecycle driven by hand."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
import warnings
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

import httpx
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
from telegram.constants import ChatAction, ParseMode
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
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, filters
from telegram.ext import MessageHandler as PTBMessageHandler
from telegram.request import HTTPXRequest

from briefbot import commands
from briefbot.adapters.base import STOP_GRACE_SECONDS, ChatEvents, Handler
from briefbot.config import TELEGRAM_TOKEN_ENV, TelegramConfig
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
from briefbot.messages import TELEGRAM, Incoming, Reply
from briefbot.render import render_telegram
from briefbot.respond import respond

log = logging.getLogger(__name__)

PLATFORM = TELEGRAM
# The command menu (name, description), from the one list that /help and dispatch use too.
COMMANDS = tuple((command.name, command.menu_line) for command in commands.COMMANDS)
OUR_COMMANDS = frozenset(commands.BY_NAME)
# 5xx and timeouts: tries per message, and the first pause (doubling after each try).
SEND_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.25
# AIORateLimiter waits out this many 429s (retry_after each) before send_part gives up.
RATE_LIMIT_RETRIES = 3
# The longest 429 waited out inside a send. PTB's limiter holds *every* request while it waits,
# so a `retry_after: 3600` would freeze all chats for an hour; longer waits are raised as
# RateLimited at once and the caller leaves that chat due until the time Telegram gave.
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
UPDATE_CONCURRENCY = 32  # chats served at once; each chat's own messages stay in order
# Messages of one chat waiting for their turn (with the one being answered); more are dropped
# on arrival, so a flooding chat holds at most this many of the UPDATE_CONCURRENCY slots.
MAX_WAITING_PER_CHAT = 16
POLL_TIMEOUT_SECONDS = 10
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


# --- token redaction -------------------------------------------------------------------------


def install_token_redaction(token: str) -> None:
    """Keep the token out of every log line (see briefbot.logs); quiet httpx's request lines.

    httpx logs each request URL, which holds the token, at INFO: the redaction would catch it,
    but the lines are noise in a bot that polls every few seconds.
    """
    register_secret(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)


# --- rate limiting ---------------------------------------------------------------------------


class _LongRetryAfter(Exception):
    """Carries a RetryAfter past AIORateLimiter's retry loop (which only catches RetryAfter)."""

    def __init__(self, original: RetryAfter) -> None:
        super().__init__(str(original))
        self.original = original


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


class CappedRateLimiter(AIORateLimiter):
    """AIORateLimiter that waits out only short 429s; a longer one is raised to the caller at once.

    Waits of at most `max_wait` seconds pause every request, as PTB does (a 429 may be
    bot-wide); a longer one leaves the other chats free to be served. Requests to a chat are
    paced overall by `window` (PTB's own overall limiter is not used); PTB's per-group limit
    still applies.
    """

    def __init__(self, *, max_wait: float = MAX_RETRY_AFTER_SECONDS,
                 window: SendWindow | None = None, **kwargs: Any) -> None:
        super().__init__(overall_max_rate=0, **kwargs)
        self.max_wait = max_wait
        self.window = window or SendWindow(OVERALL_PER_WINDOW, WINDOW_SECONDS)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        max_wait = self.max_wait
        window = self.window if data.get("chat_id") is not None else contextlib.nullcontext()

        async def capped(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                async with window:
                    return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                if retry_after_seconds(exc) > max_wait:
                    raise _LongRetryAfter(exc) from None
                raise

        try:
            return await super().process_request(capped, args, kwargs, endpoint, data,
                                                 rate_limit_args)
        except _LongRetryAfter as long_wait:
            raise long_wait.original from None


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


# --- the adapter -----------------------------------------------------------------------------


class TelegramAdapter:
    """Serves one bot: private chats and groups (commands, mentions, replies); posts to channels."""

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
    ) -> None:
        self.config = config
        self.handler = handler
        self.events = events
        self.receive = receive
        self.backoff_seconds = backoff_seconds
        self.send_timeout = send_timeout
        self.max_retry_after = max_retry_after
        self.stop_grace = stop_grace  # seconds that replies in progress get at stop
        # Sends retried after a timeout that may have delivered them: possible duplicates.
        self.resent_after_timeout = 0
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._chat_waiters: Counter[str] = Counter()
        self._requests: tuple[HTTPXRequest, ...] = ()
        if config.token is not None:
            install_token_redaction(config.token.reveal())

    @property
    def username(self) -> str:
        """The bot's @username (without the @), known once started."""
        username: str = self._application().bot.username
        return username

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._app is not None:
            return
        if self.config.token is None:
            raise ConfigError(f"{TELEGRAM_TOKEN_ENV} is not set; get a token from @BotFather")
        app = self._build(self.config.token.reveal())
        try:
            await app.initialize()
        except InvalidToken:
            await self._close_requests()
            raise ConfigError(_REJECTED_TOKEN) from None
        except TelegramError as exc:
            await self._close_requests()
            where = self.config.base_url or "https://api.telegram.org"
            raise TemporaryFailure(
                f"cannot reach the Telegram Bot API at {where} ({exc.message}); check the "
                "network and telegram.base_url"
            ) from None
        self._app = app
        if not self.receive:
            return
        try:
            await self._serve(app)
        except BaseException:
            await self.stop()  # never leave a half-started application behind
            raise

    async def _serve(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Handlers, the command menu, then long polling or the webhook server."""
        app.add_handler(PTBMessageHandler(filters.UpdateType.MESSAGE & filters.TEXT,
                                          self._on_message))
        app.add_error_handler(self._on_error)
        await self._set_commands()
        await app.start()
        assert app.updater is not None
        webhook = self.config.webhook
        if webhook is None:
            await app.updater.start_polling(
                timeout=POLL_TIMEOUT_SECONDS,
                allowed_updates=[Update.MESSAGE],
                error_callback=self._on_polling_error,
            )
        else:
            try:
                await app.updater.start_webhook(
                    listen=webhook.listen,
                    port=webhook.port,
                    url_path=webhook.path,
                    webhook_url=webhook.url,
                    allowed_updates=[Update.MESSAGE],
                    secret_token=webhook.secret_token.reveal() if webhook.secret_token else None,
                )
            except OSError as exc:
                raise ConfigError(
                    f"telegram.webhook: cannot listen on {webhook.listen}:{webhook.port} "
                    f"({exc.strerror}); pick a free port or address"
                ) from None
        log.info("Telegram: serving as @%s (%s)", app.bot.username,
                 "webhook" if webhook else "long polling")

    async def stop(self) -> None:
        app = self._app
        if app is None:
            return
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                # Answers the updates already fetched (so it needs the bot), for a bounded
                # time: a hanging reader model or a long 429 must not hold the process.
                try:
                    async with asyncio.timeout(self.stop_grace):
                        await app.stop()
                except TimeoutError:
                    log.warning("Telegram: stopped after %.0f s with replies still in progress; "
                                "those chats get no answer", self.stop_grace)
        finally:
            self._app = None
            await app.shutdown()

    def _build(self, token: str) -> Application[Any, Any, Any, Any, Any, Any]:
        self._requests = (
            HTTPXRequest(connection_pool_size=64, read_timeout=self.send_timeout,
                         write_timeout=HTTP_TIMEOUT_SECONDS),
            HTTPXRequest(read_timeout=HTTP_TIMEOUT_SECONDS),
        )
        builder = (
            ApplicationBuilder()
            .token(token)
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
            .rate_limiter(
                CappedRateLimiter(
                    max_wait=self.max_retry_after,
                    window=SendWindow(OVERALL_PER_WINDOW, WINDOW_SECONDS),
                    max_retries=RATE_LIMIT_RETRIES,
                )
            )
            .concurrent_updates(UPDATE_CONCURRENCY)
            .job_queue(None)  # one scheduler for every platform lives in the core
        )
        if self.config.base_url:
            builder = builder.base_url(self.config.base_url)
        if self.config.base_file_url:
            builder = builder.base_file_url(self.config.base_file_url)
        if not self.receive:
            builder = builder.updater(None)
        return builder.build()

    async def _close_requests(self) -> None:
        """Close the HTTP clients of an application whose initialize() failed half-way."""
        for request in self._requests:
            with contextlib.suppress(Exception):
                await request.shutdown()

    def _application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        if self._app is None:
            raise RuntimeError("TelegramAdapter used before start()")
        return self._app

    async def _set_commands(self) -> None:
        try:
            await self._application().bot.set_my_commands(
                [BotCommand(name, description) for name, description in COMMANDS]
            )
        except TelegramError as exc:  # the menu is a convenience; the bot works without it
            log.warning("Telegram: could not set the command menu: %s", exc.message)

    # --- incoming ----------------------------------------------------------------------------

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None:
            return
        text = self._addressed_text(message)
        if text is None:
            return
        chat_id = str(message.chat.id)
        topic = _topic_of(message)
        incoming = Incoming(
            platform=PLATFORM,
            chat_id=chat_id,
            user_id=str(message.from_user.id if message.from_user else message.chat.id),
            text=text,
            chat_kind="private" if message.chat.type == Chat.PRIVATE else "group",
            admin_check=None if message.chat.type == Chat.PRIVATE else self._admin_check(message),
            working=self._typing(message.chat.id, topic),
            thread_id=None if topic is None else str(topic),
        )
        if self._chat_waiters[chat_id] >= MAX_WAITING_PER_CHAT:
            # A chat flooding faster than it is answered (a slow reader model makes this easy)
            # must not fill the library's update slots that every other chat needs.
            log.info("Telegram chat %s: %d messages already waiting; this one is dropped",
                     chat_id, MAX_WAITING_PER_CHAT)
            return
        async with self._turn(chat_id):
            await respond(incoming, self.handler, self.render, self._replier(message),
                          self.events)

    def _addressed_text(self, message: Message) -> str | None:
        """The text meant for the bot, or None for group talk that does not address it."""
        text = message.text or ""
        username: str = self._application().bot.username
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
            replied.from_user.id == self._application().bot.id
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
                member = await self._application().bot.get_chat_member(chat_id, sender.id)
            except TelegramError as exc:
                log.warning("Telegram chat %s: cannot check admin rights: %s", chat_id,
                            exc.message)
                return False
            return member.status in ADMIN_STATUSES

        return check

    def _typing(self, chat_id: int, topic: int | None) -> Callable[[], Awaitable[None]]:
        """Shows "typing…" in the chat or topic (for 5 s, or until the bot's next message)."""

        async def typing() -> None:
            await self._application().bot.send_chat_action(chat_id, ChatAction.TYPING,
                                                           message_thread_id=topic)

        return typing

    def _replier(self, message: Message) -> Callable[[Reply, str], Awaitable[None]]:
        """Sends the parts of the replies to `message`, each into the asker's forum topic."""
        chat_id = str(message.chat.id)
        # In a group the first part answers the message itself, so the thread stays readable.
        reply_to = message.message_id if message.chat.type != Chat.PRIVATE else None
        # In a forum every part goes into the asker's topic: only the first is a reply, and a
        # message that is not a reply and names no topic lands in General.
        topic = _topic_of(message)

        async def send(_reply: Reply, html: str) -> None:
            nonlocal reply_to
            try:
                await self._send(chat_id, html, reply_to, topic)
            except TopicGone:
                # The asker's topic closed under the reply: that reply is lost, but the chat
                # (and its daily briefing, perhaps in another topic) is fine.
                raise DeliveryError(f"the forum topic {topic} was closed or deleted") from None
            reply_to = None

        return send

    @contextlib.asynccontextmanager
    async def _turn(self, chat_id: str) -> AsyncIterator[None]:
        """One update at a time per chat (updates of different chats run concurrently)."""
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        self._chat_waiters[chat_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._chat_waiters[chat_id] -= 1
            if not self._chat_waiters[chat_id]:
                del self._chat_waiters[chat_id]
                del self._chat_locks[chat_id]

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        log.error(
            "Telegram: handling an update from chat %s failed",
            chat.id if chat is not None else "(none)",
            exc_info=context.error,
        )

    def _on_polling_error(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            log.error("Telegram: another process is polling with this bot token; stop it")
        else:
            log.warning("Telegram: fetching updates failed, retrying: %s", error.message)

    # --- rendering and sending ---------------------------------------------------------------

    def render(self, reply: Reply) -> Sequence[str]:
        return render_telegram(reply)

    async def send_part(
        self, chat_id: str, part: object, *, thread_id: str | None = None
    ) -> None:
        """Send one HTML message; failures become ChatUnavailable, ChatMoved or TemporaryFailure."""
        if not isinstance(part, str):
            raise TypeError(f"expected Telegram HTML text from render(), got {type(part).__name__}")
        topic = int(thread_id) if thread_id is not None and _TOPIC.fullmatch(thread_id) else None
        await self._send(chat_id, part, None, topic)

    async def _send(self, chat_id: str, html: str, reply_to: int | None,
                    topic: int | None = None) -> None:
        bot = self._application().bot
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

