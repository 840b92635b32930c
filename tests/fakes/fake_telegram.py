"""FakeTelegram: a small Telegram Bot API server on 127.0.0.1 for end-to-end tests of the real PTB.

It answers what python-telegram-bot sends (form-encoded bodies, `/bot<token>/<method>` paths),
validates messages the way Telegram does (chat known, text not empty, at most 4096 characters
after HTML parsing, HTML parsed by TDLib's rules), long-polls `getUpdates`, and fails requests on
demand (`inject`). A failed request is never recorded in `sent_messages`, so "every part arrived
exactly once" is something a test can check.

    async with FakeTelegram() as fake:
        app = ApplicationBuilder().token(fake.token).base_url(fake.base_url)...
        fake.push_message("/latest", chat_id=1001)
        [reply] = await fake.wait_for_messages(1, chat_id=1001)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from fakes.telegram_html import Entity, TelegramHtmlError, parse_html, utf16_length

__all__ = ["Call", "FakeTelegram", "SentMessage"]

_T = TypeVar("_T")

DEFAULT_TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmnop"
MAX_TEXT = 4096

# Parameters PTB sends as JSON text inside the form body.
_JSON_PARAMS = frozenset(
    {
        "allowed_updates", "commands", "scope", "link_preview_options", "reply_parameters",
        "reply_markup", "entities", "disable_web_page_preview", "disable_notification",
        "protect_content", "drop_pending_updates", "allow_sending_without_reply",
    }
)
_INT_PARAMS = frozenset({"offset", "limit", "timeout", "user_id", "message_id",
                         "message_thread_id"})
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the fake accepted: the raw text PTB sent and what a reader would see."""

    message_id: int
    chat_id: int | str
    text: str  # as sent (HTML source when parse_mode is HTML)
    parsed_text: str  # what Telegram shows
    parse_mode: str | None
    entities: tuple[Entity, ...]
    params: Mapping[str, Any]
    # The forum topic it was posted in; None is the chat itself (a forum's General topic).
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake answered."""

    method: str
    params: Mapping[str, Any]
    status: int
    response: Mapping[str, Any]
    at: float


@dataclass(slots=True)
class _Fault:
    kind: str
    method: str  # lower-case, or "*" for every method but getUpdates
    times: int | None
    chat_id: int | str | None
    skip: int  # matching requests to let through before failing
    params: dict[str, Any] = field(default_factory=dict)


class _Reject(Exception):
    """Answer the current request with a Bot API error."""

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


_FAULT_KINDS = ("retry_after", "server_error", "delay", "blocked", "chat_not_found", "migrated",
                "error", "hangup", "stall")
_STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                504: "Gateway Timeout"}


class FakeTelegram:
    """A fake Bot API server; use as `async with FakeTelegram() as fake:`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int | None = None,
        username: str = "briefbot_test_bot",
        first_name: str = "Briefbot",
        global_rate: float | None = None,
    ) -> None:
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.username = username
        self.first_name = first_name
        # Accepted sendMessage calls per sliding second; None means no limit.
        self.global_rate = global_rate
        self.sent_messages: list[SentMessage] = []
        self.calls: list[Call] = []  # answered requests
        self.received: list[str] = []  # method names as requests arrive (long polls included)
        # The parameters of each request whose answer is held right now (a delay or stall fault),
        # in arrival order: a bot killed meanwhile never heard back about these.
        self.held: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        # chat id -> forum topics deleted there: sending into one is refused.
        self.deleted_topics: dict[int, set[int]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._usernames: dict[str, int] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._faults: list[_Fault] = []
        self._sent_times: deque[float] = deque()
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._webhook_task: asyncio.Task[None] | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "logout": lambda _p: True,
            "close": lambda _p: True,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
        }

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        # access_log=None: the request line holds the token, and tests check logs for it.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        self._closing = True
        self._wake()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    # ------------------------------------------------------------------ test helpers

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> dict[str, Any]:
        """Make a chat known (as if it wrote to the bot or added it) and return its Chat object.

        `is_forum=True` makes a supergroup with topics: messages may name a `thread_id`.
        """
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if is_forum:
            chat["is_forum"] = True
        if chat_type == "private":
            chat["first_name"] = title or "Reader"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        if username:
            chat["username"] = username.lstrip("@")
            self._usernames[username.lstrip("@").lower()] = chat_id
        self._chats[chat_id] = chat
        return chat

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers: creator, administrator, member, restricted, left, kicked."""
        self._members[(chat_id, user_id)] = status

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an update_id is filled in) for getUpdates or the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._wake()
        return update

    def push_message(
        self,
        text: str,
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to_bot: bool = False,
        first_name: str = "Reader",
        title: str | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A person writes `text`; a leading /command and @mentions get their entities.

        `thread_id` posts it in that topic of a forum supergroup (`add_chat(..., is_forum=True)`),
        as Telegram does: `message_thread_id` and `is_topic_message: true`.
        """
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 42
        chat = self._chats.get(chat_id) or self.add_chat(
            chat_id, chat_type, title=title or (first_name if chat_type == "private" else None)
        )
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "text": text,
        }
        if thread_id is not None:
            if not chat.get("is_forum"):
                raise ValueError(f"chat {chat_id} is not a forum; add_chat(..., is_forum=True)")
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        entities = _auto_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = self._last_bot_message(chat)
        return self.push_update({"message": message})

    def push_channel_post(
        self, text: str, *, chat_id: int = -1001000000001, username: str | None = None
    ) -> dict[str, Any]:
        """A post in a channel where the bot is an admin."""
        chat = self._chats.get(chat_id) or self.add_chat(chat_id, "channel", username=username)
        post = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "sender_chat": chat,
            "text": text,
        }
        return self.push_update({"channel_post": post})

    def inject(
        self,
        kind: str,
        method: str = "sendMessage",
        times: int | None = 1,
        *,
        chat_id: int | str | None = None,
        after: int = 0,
        **params: Any,
    ) -> None:
        """Fail the next `times` matching requests (None: every one) before they take effect.

        `after=n` lets the first n matching requests through (a fault in mid-conversation).
        kinds: retry_after (retry_after=1), server_error (status=500), delay (seconds=6;
        then answers 504 unless deliver=True), blocked (description=...), chat_not_found,
        migrated (migrate_to_chat_id=...), error (status=, description=, parameters=),
        hangup (the request takes effect, then the connection closes with no answer),
        stall (the request takes effect, then its answer is held: seconds=3600).
        A delay or stall ends early when the server closes; `held` lists the requests in one.
        `method="*"` matches every method except getUpdates.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(_FAULT_KINDS)}")
        self._faults.append(_Fault(kind, method.lower(), times, chat_id, after, dict(params)))

    def clear_faults(self) -> None:
        self._faults.clear()

    def pending_update_ids(self) -> list[int]:
        """The updates Telegram still holds: not confirmed by a getUpdates offset past them."""
        return [u["update_id"] for u in self._pending]

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        return [m for m in self.sent_messages if m.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    # A plain `timeout` keeps test transcripts short (hence the ASYNC109 ignores below).
    async def wait_for_messages(
        self, n: int, chat_id: int | str | None = None, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """The first `n` messages sent (to `chat_id`, if given), waiting up to `timeout` s."""

        def ready() -> list[SentMessage] | None:
            found = self.sent_messages if chat_id is None else self.messages_to(chat_id)
            return found[:n] if len(found) >= n else None

        where = "" if chat_id is None else f" to chat {chat_id}"
        return await self._wait(ready, timeout, f"{n} message(s){where}")

    async def wait_for_calls(
        self, method: str, n: int = 1, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[Call]:
        def ready() -> list[Call] | None:
            found = self.calls_to(method)
            return found[:n] if len(found) >= n else None

        return await self._wait(ready, timeout, f"{n} {method} call(s)")

    async def wait_until(
        self, check: Callable[[], bool], timeout: float = 5.0, what: str = "a condition"  # noqa: ASYNC109
    ) -> None:
        """Until `check()` is true; AssertionError naming `what` after `timeout` seconds.

        Looked at again whenever a request arrives, is held or is answered, and every 10 ms
        besides, since it may watch the bot's own state (its database, say).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"fake Telegram: timed out waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.01)

    async def wait_until_polling(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a getUpdates long poll has arrived (the bot is receiving)."""
        await self.wait_for_request("getUpdates", timeout)

    async def wait_for_request(self, method: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a `method` request has arrived (answered or not: a delayed one counts)."""

        def ready() -> bool | None:
            return True if any(m.lower() == method.lower() for m in self.received) else None

        await self._wait(ready, timeout, f"a {method} request")

    # ------------------------------------------------------------------ internals

    async def _wait(self, ready: Callable[[], _T | None], seconds: float, what: str) -> _T:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            changed = self._changed
            result = ready()
            if result is not None:
                return result
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                last = [(m.chat_id, m.parsed_text[:60]) for m in self.sent_messages[-5:]]
                raise AssertionError(
                    f"timed out waiting for {what}; {len(self.sent_messages)} sent in all, "
                    f"the last ones: {last}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _last_bot_message(self, chat: dict[str, Any]) -> dict[str, Any]:
        previous = self.messages_to(chat["id"])
        last = previous[-1] if previous else None
        return {
            "message_id": last.message_id if last else next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            "text": last.parsed_text if last else "An earlier message from the bot",
        }

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}

    async def _dispatch(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if not path.startswith("bot") or "/" not in path:
            return _error_response(404, "Not Found")
        token, _, method = path[3:].partition("/")
        if token != self.token:
            self._record(method, {}, 401, _error_body(401, "Unauthorized"))
            return _error_response(401, "Unauthorized")
        params = await _read_params(request)
        self.received.append(method)
        self._wake()
        try:
            then = await self._apply_faults(method.lower(), params)
            handler = self._handlers.get(method.lower())
            if method.lower() == "getupdates":
                result = await self._get_updates(params)
            elif handler is None:
                raise _Reject(404, "Not Found")
            else:
                result = handler(params)
        except _Reject as reject:
            response = _error_body(reject.status, reject.description, reject.parameters)
            self._record(method, params, reject.status, response)
            return web.json_response(response, status=reject.status)
        if then is not None and then.kind == "stall":
            await self._hold(params, float(then.params.get("seconds", 3600.0)))
        response = {"ok": True, "result": result}
        self._record(method, params, 200, response)
        if then is not None and then.kind == "hangup" and request.transport is not None:
            request.transport.close()  # accepted, but the client never hears so
        return web.json_response(response)

    def _record(self, method: str, params: dict[str, Any], status: int,
                response: dict[str, Any]) -> None:
        self.calls.append(Call(method, params, status, response, time.monotonic()))
        self._wake()

    async def _apply_faults(self, method: str, params: dict[str, Any]) -> _Fault | None:
        """Raise the first matching fault's rejection (or wait its delay out); -> the fault
        that acts once the request took effect (hangup, stall), if any."""
        for fault in self._faults:
            if fault.method != method and not (fault.method == "*" and method != "getupdates"):
                continue
            if fault.chat_id is not None and not _same_chat(fault.chat_id, params.get("chat_id")):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            if fault.kind in ("hangup", "stall"):
                return fault
            await self._fail(fault, params)
            return None
        return None

    async def _fail(self, fault: _Fault, params: dict[str, Any]) -> None:
        p = fault.params
        if fault.kind == "retry_after":
            seconds = int(p.get("retry_after", 1))
            raise _Reject(429, f"Too Many Requests: retry after {seconds}",
                          {"retry_after": seconds})
        if fault.kind == "server_error":
            status = int(p.get("status", 500))
            raise _Reject(status, p.get("description", _STATUS_TEXT.get(status, "Server Error")))
        if fault.kind == "delay":
            await self._hold(params, float(p.get("seconds", 6.0)))
            if p.get("deliver"):
                return
            raise _Reject(504, "Gateway Timeout")
        if fault.kind == "blocked":
            raise _Reject(403, p.get("description", "Forbidden: bot was blocked by the user"))
        if fault.kind == "chat_not_found":
            raise _Reject(400, "Bad Request: chat not found")
        if fault.kind == "migrated":
            raise _Reject(400, "Bad Request: group chat was upgraded to a supergroup chat",
                          {"migrate_to_chat_id": int(p["migrate_to_chat_id"])})
        raise _Reject(int(p.get("status", 400)), p.get("description", "Bad Request"),
                      p.get("parameters"))

    async def _hold(self, params: dict[str, Any], seconds: float) -> None:
        """Leave a request unanswered for `seconds`, or until the server closes (in `held`)."""
        self.held.append(params)
        self._wake()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed_soon(), seconds)
        finally:
            self.held = [other for other in self.held if other is not params]

    async def _closed_soon(self) -> None:
        while not self._closing:
            await self._changed.wait()

    def _chat(self, params: Mapping[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        if isinstance(raw, str) and raw.startswith("@"):
            chat_id = self._usernames.get(raw[1:].lower())
        elif isinstance(raw, int):
            chat_id = raw
        else:
            raise _Reject(400, "Bad Request: chat_id is empty" if raw in (None, "") else
                          "Bad Request: chat not found")
        if chat_id is None or chat_id not in self._chats:
            raise _Reject(400, "Bad Request: chat not found")
        return self._chats[chat_id]

    # ------------------------------------------------------------------ Bot API methods

    def _get_me(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url", ""))
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if url and self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())
        self._wake()
        return True

    def _get_webhook_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self._pending)}

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise _Reject(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if offset > 0:
            # An offset confirms every update below it: they are never sent again.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # ends an older poll, as Telegram does with 409
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            changed = self._changed
            if self._pending:
                return self._pending[:limit]
            if generation != self._poll_generation:
                raise _Reject(409, "Conflict: terminated by other getUpdates request; make sure "
                                   "that only one bot instance is running")
            remaining = deadline - asyncio.get_running_loop().time()
            if self._closing or remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def _deliver_webhooks(self) -> None:
        """POST queued updates to the webhook one by one, in order, as Telegram does."""
        async with aiohttp.ClientSession() as session:
            while not self._closing:
                changed = self._changed
                if not (self.webhook_url and self._pending):
                    await changed.wait()
                    continue
                update = self._pending[0]
                headers = {}
                if self.webhook_secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                try:
                    async with session.post(self.webhook_url, json=update,
                                            headers=headers) as response:
                        delivered = response.status == 200
                except aiohttp.ClientError:
                    delivered = False
                if delivered:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                else:
                    await asyncio.sleep(0.1)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _Reject(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode")
        entities: list[Entity] = []
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            try:
                visible, entities = parse_html(text)
            except TelegramHtmlError as exc:
                raise _Reject(400, f"Bad Request: can't parse entities: {exc}") from None
        elif parse_mode:
            raise _Reject(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in this fake")
        else:
            visible = text
        if not visible.strip():
            raise _Reject(400, "Bad Request: message text is empty")
        if len(visible) > MAX_TEXT:
            raise _Reject(400, "Bad Request: message is too long")
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            if not isinstance(thread_id, int):
                raise _Reject(400, "Bad Request: invalid message_thread_id")
            if not chat.get("is_forum"):
                thread_id = None  # Telegram ignores it outside forums
            elif thread_id in self.deleted_topics.get(chat["id"], set()):
                raise _Reject(400, "Bad Request: message thread not found")
        self._check_rate()
        message_id = next(self._message_ids)
        self.sent_messages.append(
            SentMessage(message_id, chat["id"], text, visible,
                        parse_mode if isinstance(parse_mode, str) else None,
                        tuple(entities), params, thread_id)
        )
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                                   "chat": chat, "text": visible}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if chat["type"] != "channel":
            message["from"] = self._bot_user()
        if entities:
            message["entities"] = [e.to_api() for e in entities]
        return message

    def _check_rate(self) -> None:
        if self.global_rate is None:
            return
        now = time.monotonic()
        while self._sent_times and self._sent_times[0] <= now - 1.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self.global_rate:
            wait = max(1, math.ceil(self._sent_times[0] + 1.0 - now))
            raise _Reject(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        self._sent_times.append(now)

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _Reject(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not _COMMAND_NAME.fullmatch(name):
                raise _Reject(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _Reject(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_scope_key(params)] = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands.get(_scope_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(_scope_key(params), None)
        return True

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _Reject(400, "Bad Request: invalid user_id specified")
        default = "creator" if chat["type"] == "private" and user_id == chat["id"] else "member"
        status = self._members.get((chat["id"], user_id), default)
        return _chat_member(status, {"id": user_id, "is_bot": False, "first_name": "Reader"})

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._chat(params), "accent_color_id": 0, "max_reaction_count": 11}


# ---------------------------------------------------------------------- helpers


async def _read_params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            raw.update(body)
        return raw
    if request.can_read_body:
        form = await request.post()
        raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    params: dict[str, Any] = {}
    for key, value in raw.items():
        params[key] = _decode(key, value)
    return params


def _decode(key: str, value: str) -> Any:
    if key in _JSON_PARAMS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
        return value
    if key in _INT_PARAMS or key == "chat_id":
        with contextlib.suppress(ValueError):
            return int(value)
    return value


def _same_chat(expected: int | str, actual: object) -> bool:
    return str(expected) == str(actual)


def _scope_key(params: Mapping[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


def _auto_entities(text: str) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0,
                         "length": utf16_length(command.group())})
    for mention in _MENTION.finditer(text):
        entities.append({"type": "mention", "offset": utf16_length(text[: mention.start()]),
                         "length": utf16_length(mention.group())})
    return entities


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False, is_anonymous=False, can_manage_chat=True,
            can_delete_messages=True, can_manage_video_chats=True, can_restrict_members=True,
            can_promote_members=False, can_change_info=True, can_invite_users=True,
            can_post_stories=False, can_edit_stories=False, can_delete_stories=False,
        )
    elif status == "restricted":
        member.update(
            is_member=True, can_send_messages=False, can_send_audios=False,
            can_send_documents=False, can_send_photos=False, can_send_videos=False,
            can_send_video_notes=False, can_send_voice_notes=False, can_send_polls=False,
            can_send_other_messages=False, can_add_web_page_previews=False,
            can_change_info=False, can_invite_users=False, can_pin_messages=False,
            can_manage_topics=False, until_date=0,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _error_body(
    status: int, description: str, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = dict(parameters)
    return body


def _error_response(status: int, description: str) -> web.Response:
    return web.json_response(_error_body(status, description), status=status)
