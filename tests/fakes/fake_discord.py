"""A fake Discord REST API and gateway on 127.0.0.1, so the real discord.py can be tested offline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API = "/api/v10"
TOKEN = "fake.discord.token-0123456789abcdefABCDEF"

GUILD_ID = 810000000000000001
GENERAL_ID = 810000000000000101
ANNOUNCEMENTS_ID = 810000000000000102
BOT_ID = 810000000000000900
APP_ID = BOT_ID  # Discord gives a bot user the same id as its application
MODERATOR_ROLE_ID = 812000000000000001
BOT_ROLE_ID = 812000000000000002

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 50) - 1
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
)
MESSAGE_CONTENT_INTENT = 1 << 15
EPHEMERAL = 1 << 6

USERS: dict[str, dict[str, Any]] = {
    "olivia": {"id": "811000000000000001", "username": "olivia"},  # the server owner
    "morgan": {"id": "811000000000000002", "username": "morgan"},  # a Moderator: MANAGE_GUILD
    "alice": {"id": "811000000000000003", "username": "alice"},  # a plain member
    "helperbot": {"id": "811000000000000004", "username": "helperbot", "bot": True},
}
MEMBER_ROLES = {"olivia": [], "morgan": [str(MODERATOR_ROLE_ID)], "alice": [], "helperbot": []}
DM_CHANNELS = {name: 810000000000000200 + i for i, name in enumerate(USERS, start=1)}

ROUTES = {  # name -> (method, path pattern) for inject(route=...)
    "me": ("GET", "/users/@me"),
    "application": ("GET", "/oauth2/applications/@me"),
    "commands": ("PUT", "commands"),
    "messages": ("POST", "/channels/{channel_id}/messages"),
    "typing": ("POST", "/channels/{channel_id}/typing"),
    "channel": ("GET", "/channels/{channel_id}"),
    "callback": ("POST", "/interactions/{id}/{token}/callback"),
    "followup": ("POST", "/webhooks/{app}/{token}"),
    "edit_original": ("PATCH", "/webhooks/{app}/{token}/messages/@original"),
}


def _user(name: str) -> dict[str, Any]:
    data = {"discriminator": "0", "avatar": None, "global_name": None, "bot": False}
    data.update(USERS[name])
    return data


BOT_USER = {"id": str(BOT_ID), "username": "briefbot", "discriminator": "0", "avatar": None,
            "global_name": None, "bot": True}


@dataclass
class SentMessage:
    """One message the bot made visible, as Discord accepted it."""

    via: str  # "channel", "interaction", "followup" or "edit_original"
    channel_id: int
    content: str
    embeds: list[dict[str, Any]]
    allowed_mentions: dict[str, Any] | None
    ephemeral: bool = False
    interaction_id: int | None = None
    reference_id: int | None = None
    id: int = 0
    at: float = field(default_factory=time.monotonic)  # when Discord accepted it

    def can_ping_everyone(self) -> bool:
        """Whether @everyone/@here in this message would notify the whole server."""
        if "@everyone" not in self.content and "@here" not in self.content:
            return False
        return self.allowed_mentions is None or "everyone" in self.allowed_mentions.get(
            "parse", []
        )

    def can_ping_roles(self) -> bool:
        if "<@&" not in self.content:
            return False
        allowed = self.allowed_mentions
        return allowed is None or "roles" in allowed.get("parse", []) or bool(allowed.get("roles"))

    @property
    def text(self) -> str:
        """Everything a reader sees: content plus all embed text."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [f.get("name", "") + "\n" + f.get("value", "") for f in embed.get("fields", [])]
            parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(p for p in parts if p)


@dataclass
class Fault:
    kind: str
    route: str | None
    times: int
    params: dict[str, Any]


@dataclass
class _Interaction:
    id: int
    token: str
    channel_id: int
    acknowledged: bool = False
    deferred_ephemeral: bool | None = None  # set by a type 5 callback
    original_sent: bool = False


@dataclass
class _Session:
    id: str
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, for RESUME


class FakeDiscord:
    """Discord's REST API under /api/v10 and a gateway at /gateway, for one guild and one bot."""

    def __init__(self, *, token: str = TOKEN, message_content_enabled: bool = True,
                 rate_limits: bool = False) -> None:
        self.token = token
        self.message_content_enabled = message_content_enabled  # the portal toggle
        self.rate_limits = rate_limits  # send X-RateLimit headers: 5 posts per 5 s per channel
        self.sent_messages: list[SentMessage] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.gateway_log: list[str] = []  # "IDENTIFY", "RESUME", "close 4000", ...
        self.identify_intents: list[int] = []
        self.port = 0
        self._faults: list[Fault] = []
        self._ids = itertools.count(820000000000000001)
        self._interactions: dict[str, _Interaction] = {}
        self._session: _Session | None = None
        self._ws: web.WebSocketResponse | None = None
        self._buckets: dict[int, list[float]] = {}
        self._runner: web.AppRunner | None = None
        self.bot_muted: set[int] = set()  # channels where the bot lacks SEND_MESSAGES

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/", self._gateway)  # a gateway root, as config.yaml shows it
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- driving the bot ---------------------------------------------------------------------

    async def dispatch_message(self, content: str, *, author: str = "alice",
                               channel_id: int = GENERAL_ID, mentions_bot: bool = False,
                               reference_to_bot: bool = False, dm: bool = False) -> int:
        """A person posts a message; returns its id."""
        message_id = next(self._ids)
        if mentions_bot and f"<@{BOT_ID}>" not in content:
            content = f"<@{BOT_ID}> {content}"
        data: dict[str, Any] = {
            "id": str(message_id), "type": 0, "content": content, "author": _user(author),
            "mentions": [BOT_USER] if mentions_bot else [], "mention_roles": [],
            "mention_everyone": False, "attachments": [], "embeds": [], "components": [],
            "pinned": False, "tts": False, "timestamp": "2026-02-11T09:00:00+00:00",
            "edited_timestamp": None, "flags": 0,
        }
        if dm:
            data["channel_id"] = str(DM_CHANNELS[author])
        else:
            data["channel_id"] = str(channel_id)
            data["guild_id"] = str(GUILD_ID)
            data["member"] = self._member(author, with_user=False)
        if reference_to_bot:
            bot_posts = [m for m in self.sent_messages if m.channel_id == int(data["channel_id"])]
            ref = bot_posts[-1].id if bot_posts else next(self._ids)
            data["message_reference"] = {"message_id": str(ref), "channel_id": data["channel_id"],
                                         "type": 0}
            data["referenced_message"] = {
                "id": str(ref), "channel_id": data["channel_id"], "type": 0, "content": "",
                "author": BOT_USER, "attachments": [], "embeds": [], "mentions": [],
                "mention_roles": [], "pinned": False, "tts": False, "edited_timestamp": None,
                "timestamp": "2026-02-11T09:00:00+00:00", "mention_everyone": False,
            }
        intents = self.identify_intents[-1] if self.identify_intents else 0
        if not (dm or mentions_bot or intents & MESSAGE_CONTENT_INTENT):
            data["content"] = ""  # Discord withholds content without the privileged intent
        await self._dispatch("MESSAGE_CREATE", data)
        return message_id

    async def dispatch_slash(self, name: str, options: dict[str, Any] | None = None, *,
                             user: str = "alice", channel_id: int = GENERAL_ID) -> int:
        """A person runs a guild slash command that the bot synced; returns the interaction id."""
        synced = self.commands.get(GUILD_ID, []) + self.commands.get(None, [])
        command = next((c for c in synced if c["name"] == name), None)
        if command is None:
            raise AssertionError(f"/{name} was never synced; synced: {[c['name'] for c in synced]}")
        interaction_id = next(self._ids)
        token = f"interaction-token-{interaction_id}"
        self._interactions[token] = _Interaction(interaction_id, token, channel_id)
        option_types = {o["name"]: o["type"] for o in command.get("options", [])}
        data: dict[str, Any] = {
            "id": command["id"], "name": name, "type": 1,
            "options": [{"name": k, "type": option_types.get(k, 3), "value": v}
                        for k, v in (options or {}).items()],
        }
        if GUILD_ID in self.commands and command in self.commands[GUILD_ID]:
            data["guild_id"] = str(GUILD_ID)
        member = self._member(user, with_user=True)
        member["permissions"] = str(self.permissions_for(user, channel_id))
        await self._dispatch("INTERACTION_CREATE", {
            "id": str(interaction_id), "application_id": str(APP_ID), "type": 2, "token": token,
            "version": 1, "attachment_size_limit": 10485760, "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id), "channel": self._channel(channel_id), "member": member,
            "data": data, "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": str(self.permissions_for("briefbot", channel_id)),
            "entitlements": [], "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
        })
        return interaction_id

    async def disconnect(self, code: int = 4000) -> None:
        """Drop the gateway connection the way Discord does, with a close code."""
        ws = self._ws
        self._ws = None
        self.gateway_log.append(f"close {code}")
        if ws is not None:
            await ws.close(code=code, message=b"fake disconnect")

    def inject(self, kind: str, route: str | None = None, times: int = 1, **params: Any) -> None:
        """Fail the next `times` matching requests.

        kinds: "ratelimit" (retry_after=0.05, global_=False), "server_error" (status=500),
        "forbidden" (code=50013 Missing Permissions or 50001 Missing Access),
        "not_found" (code=10003 Unknown Channel). `route` is a name from ROUTES, None for any.
        """
        if kind not in {"ratelimit", "server_error", "forbidden", "not_found"}:
            raise ValueError(f"unknown fault kind {kind!r}")
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; use one of {sorted(ROUTES)}")
        self._faults.append(Fault(kind, route, times, params))

    # A plain `timeout` keeps test transcripts short; asyncio.timeout would wrap every call.
    async def wait_for_messages(
        self, n: int, timeout: float = 5  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Wait until at least `n` messages were sent in all; returns them all."""
        await self.wait_until(lambda: len(self.sent_messages) >= n, timeout,
                              f"{n} messages (got {len(self.sent_messages)})")
        return list(self.sent_messages)

    async def wait_until(
        self, check: Callable[[], bool], timeout: float = 5, what: str = "condition"  # noqa: ASYNC109
    ) -> None:
        # Polling, because some waits are for the bot's own state (events it reported).
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"fake Discord: timed out waiting for {what}")
            await asyncio.sleep(0.002)

    def calls(self, method: str, path_part: str) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    # --- world -------------------------------------------------------------------------------

    def permissions_for(self, name: str, channel_id: int) -> int:
        if name == "olivia":
            return ALL_PERMISSIONS
        perms = EVERYONE_PERMISSIONS
        if str(MODERATOR_ROLE_ID) in MEMBER_ROLES.get(name, []):
            perms |= MANAGE_GUILD
        if name == "briefbot" and channel_id in self.bot_muted:
            perms &= ~SEND_MESSAGES
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def _member(self, name: str, *, with_user: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"roles": MEMBER_ROLES.get(name, []), "flags": 0, "nick": None,
                                "joined_at": "2025-01-01T00:00:00+00:00", "deaf": False,
                                "mute": False, "pending": False}
        if with_user:
            data["user"] = _user(name)
        return data

    def _channel(self, channel_id: int) -> dict[str, Any]:
        name = {GENERAL_ID: "general", ANNOUNCEMENTS_ID: "announcements"}[channel_id]
        overwrites = []
        if channel_id in self.bot_muted:
            overwrites.append({"id": str(BOT_ID), "type": 1, "allow": "0",
                               "deny": str(SEND_MESSAGES)})
        return {"id": str(channel_id), "type": 0, "name": name, "guild_id": str(GUILD_ID),
                "position": channel_id - GENERAL_ID, "permission_overwrites": overwrites,
                "nsfw": False, "topic": None, "parent_id": None, "last_message_id": None,
                "rate_limit_per_user": 0, "flags": 0}

    def _guild(self) -> dict[str, Any]:
        role = {"hoist": False, "managed": False, "mentionable": False, "icon": None,
                "unicode_emoji": None, "color": 0, "flags": 0}
        roles = [
            {**role, "id": str(GUILD_ID), "name": "@everyone", "position": 0,
             "permissions": str(EVERYONE_PERMISSIONS)},
            {**role, "id": str(MODERATOR_ROLE_ID), "name": "Moderator", "position": 1,
             "permissions": str(EVERYONE_PERMISSIONS | MANAGE_GUILD)},
            {**role, "id": str(BOT_ROLE_ID), "name": "briefbot", "position": 2, "managed": True,
             "permissions": str(EVERYONE_PERMISSIONS | SEND_MESSAGES),
             "tags": {"bot_id": str(BOT_ID)}},
        ]
        members = [self._member(name, with_user=True) for name in USERS]
        members.append({**self._member("alice", with_user=False), "user": BOT_USER,
                        "roles": [str(BOT_ROLE_ID)]})
        return {
            "id": str(GUILD_ID), "name": "Newsroom", "owner_id": USERS["olivia"]["id"],
            "unavailable": False, "member_count": len(members), "large": False, "roles": roles,
            "members": members, "channels": [self._channel(GENERAL_ID),
                                             self._channel(ANNOUNCEMENTS_ID)],
            "threads": [], "emojis": [], "stickers": [], "features": [], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "joined_at": "2025-01-01T00:00:00+00:00", "preferred_locale": "en-US",
        }

    # --- gateway -----------------------------------------------------------------------------

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        session = self._session
        if session is None:
            raise AssertionError("the bot has not identified on the gateway yet")
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        ws = self._ws
        if ws is not None and not ws.closed:
            # A send racing a close is lost on the wire; RESUME replays it from the log.
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(payload))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op, d = payload["op"], payload.get("d")
            if op == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:
                await self._identify(ws, request, d)
            elif op == 6:
                await self._resume(ws, d)
        if self._ws is ws:
            self._ws = None
        return ws

    async def _identify(self, ws: web.WebSocketResponse, request: web.Request,
                        d: dict[str, Any]) -> None:
        self.gateway_log.append("IDENTIFY")
        if d.get("token") != self.token:
            self.gateway_log.append("close 4004")
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if d["intents"] & MESSAGE_CONTENT_INTENT and not self.message_content_enabled:
            self.gateway_log.append("close 4014")
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identify_intents.append(d["intents"])
        self._session = _Session(id=f"session-{next(self._ids)}")
        self._ws = ws
        host = request.host
        await self._dispatch("READY", {
            "v": 10, "user": BOT_USER, "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": self._session.id, "resume_gateway_url": f"ws://{host}/resume",
            "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [],
            "relationships": [], "shard": [0, 1],
        })
        await self._dispatch("GUILD_CREATE", self._guild())

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> None:
        self.gateway_log.append("RESUME")
        session = self._session
        if session is None or d.get("session_id") != session.id or d.get("token") != self.token:
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
            return
        self._ws = ws
        for payload in session.log:
            if payload["s"] > (d.get("seq") or 0):
                await ws.send_str(json.dumps(payload))
        session.seq += 1
        await ws.send_json({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}})

    # --- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        route, params = self._match(request.method, path)
        response = await self._answer(request, route, params)
        self.requests.append((request.method, path, response.status))
        return response

    @staticmethod
    def _match(method: str, path: str) -> tuple[str | None, dict[str, str]]:
        parts = path.strip("/").split("/")
        for name, (route_method, pattern) in ROUTES.items():
            if route_method != method:
                continue
            if name == "commands":
                if parts[0] == "applications" and parts[-1] == "commands":
                    guild = parts[3] if len(parts) == 5 else ""
                    return name, {"guild": guild}
                continue
            want = pattern.strip("/").split("/")
            if len(want) != len(parts):
                continue
            params = {}
            for w, p in zip(want, parts, strict=True):
                if w.startswith("{"):
                    params[w[1:-1]] = p
                elif w != p:
                    break
            else:
                return name, params
        return None, {}

    async def _answer(self, request: web.Request, route: str | None,
                      params: dict[str, str]) -> web.Response:
        if route is None:
            return _error(404, 0, "404: Not Found")
        webhook = route in {"callback", "followup", "edit_original"}
        if not webhook and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        fault = self._take_fault(route)
        if fault is not None:
            return fault
        body: dict[str, Any] = {}
        if request.body_exists:
            body = await request.json()
        handler: Callable[[dict[str, str], dict[str, Any], web.Request],
                          Awaitable[web.Response]] = getattr(self, f"_route_{route}")
        return await handler(params, body, request)

    def _take_fault(self, route: str) -> web.Response | None:
        for fault in self._faults:
            if fault.route not in (None, route):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            p = fault.params
            if fault.kind == "ratelimit":
                retry_after = p.get("retry_after", 0.05)
                global_ = p.get("global_", False)
                return _json(429, {"message": "You are being rate limited.",
                                   "retry_after": retry_after, "global": global_},
                             {"Via": "1.1 google", "Retry-After": str(int(retry_after) + 1),
                              "X-RateLimit-Scope": "global" if global_ else "user"})
            if fault.kind == "server_error":
                return _error(p.get("status", 500), 0, "500: Internal Server Error")
            if fault.kind == "forbidden":
                code = p.get("code", 50013)
                return _error(403, code,
                              "Missing Access" if code == 50001 else "Missing Permissions")
            return _error(404, p.get("code", 10003), "Unknown Channel")
        return None

    async def _route_me(self, params: dict[str, str], body: dict[str, Any],
                        request: web.Request) -> web.Response:
        return _json(200, {**BOT_USER, "flags": 0, "mfa_enabled": False, "verified": True})

    async def _route_application(self, params: dict[str, str], body: dict[str, Any],
                                 request: web.Request) -> web.Response:
        return _json(200, {
            "id": str(APP_ID), "name": "briefbot", "description": "", "icon": None,
            "bot_public": True, "bot_require_code_grant": False, "owner": _user("olivia"),
            "verify_key": "0" * 64, "flags": 0, "team": None, "interactions_endpoint_url": None,
            "bot": BOT_USER,
        })

    async def _route_commands(self, params: dict[str, str], body: Any,
                              request: web.Request) -> web.Response:
        guild = int(params["guild"]) if params["guild"] else None
        if guild is not None and guild != GUILD_ID:
            return _error(403, 50001, "Missing Access")
        synced = []
        for command in body:
            synced.append({**command, "id": str(next(self._ids)), "application_id": str(APP_ID),
                           "version": "1", "guild_id": str(guild) if guild else None,
                           "default_member_permissions": command.get("default_member_permissions"),
                           "type": command.get("type", 1)})
        self.commands[guild] = synced
        return _json(200, synced)

    async def _route_channel(self, params: dict[str, str], body: dict[str, Any],
                             request: web.Request) -> web.Response:
        channel_id = int(params["channel_id"])
        if channel_id in (GENERAL_ID, ANNOUNCEMENTS_ID):
            return _json(200, self._channel(channel_id))
        if channel_id in DM_CHANNELS.values():
            user = next(n for n, c in DM_CHANNELS.items() if c == channel_id)
            return _json(200, {"id": str(channel_id), "type": 1, "recipients": [_user(user)],
                               "last_message_id": None, "flags": 0})
        return _error(404, 10003, "Unknown Channel")

    async def _route_typing(self, params: dict[str, str], body: dict[str, Any],
                            request: web.Request) -> web.Response:
        """"briefbot is typing…" in a channel: 204, as Discord answers it."""
        channel_id = int(params["channel_id"])
        if channel_id not in (GENERAL_ID, ANNOUNCEMENTS_ID, *DM_CHANNELS.values()):
            return _error(404, 10003, "Unknown Channel")
        return web.Response(status=204)

    async def _route_messages(self, params: dict[str, str], body: dict[str, Any],
                              request: web.Request) -> web.Response:
        channel_id = int(params["channel_id"])
        if channel_id not in (GENERAL_ID, ANNOUNCEMENTS_ID, *DM_CHANNELS.values()):
            return _error(404, 10003, "Unknown Channel")
        if not self.permissions_for("briefbot", channel_id) & SEND_MESSAGES:
            return _error(403, 50013, "Missing Permissions")
        invalid = _validate(body)
        if invalid is not None:
            return invalid
        headers = self._bucket(channel_id)
        if headers is None:
            return _json(429, {"message": "You are being rate limited.", "retry_after": 1.0,
                               "global": False}, {"Via": "1.1 google"})
        reference = body.get("message_reference") or {}
        sent = self._record("channel", channel_id, body,
                            reference_id=int(reference["message_id"]) if reference else None)
        data = self._message_json(sent)
        if channel_id not in DM_CHANNELS.values():
            data["guild_id"] = str(GUILD_ID)
        if self._session is not None:
            await self._dispatch("MESSAGE_CREATE", data)  # Discord echoes the bot's own posts
        return _json(200, data, headers)

    def _bucket(self, channel_id: int) -> dict[str, str] | None:
        """Five posts per five seconds per channel, announced in headers (None: over the limit)."""
        if not self.rate_limits:
            return {}
        now = time.monotonic()
        recent = [t for t in self._buckets.get(channel_id, []) if now - t < 5.0]
        if len(recent) >= 5:
            return None
        recent.append(now)
        self._buckets[channel_id] = recent
        reset_after = 5.0 - (now - recent[0])
        return {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": str(5 - len(recent)),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": f"messages-{channel_id}"}

    async def _route_callback(self, params: dict[str, str], body: dict[str, Any],
                              request: web.Request) -> web.Response:
        interaction = self._interactions.get(params["token"])
        if interaction is None or str(interaction.id) != params["id"]:
            return _error(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind = body.get("type")
        data = body.get("data") or {}
        if kind == 4:
            invalid = _validate(data)
            if invalid is not None:
                return invalid
        elif kind != 5:
            return _error(400, 50035, "Invalid Form Body")
        interaction.acknowledged = True
        ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
        response: dict[str, Any] = {"id": str(interaction.id), "type": 2,
                                    "response_message_loading": kind == 5,
                                    "response_message_ephemeral": ephemeral}
        if kind == 5:
            interaction.deferred_ephemeral = ephemeral
            return _json(200, {"interaction": response, "resource": {"type": 5}})
        interaction.original_sent = True
        sent = self._record("interaction", interaction.channel_id, data, ephemeral=ephemeral,
                            interaction_id=interaction.id)
        response["response_message_id"] = str(sent.id)
        return _json(200, {"interaction": response,
                           "resource": {"type": 4, "message": self._message_json(sent)}})

    async def _route_followup(self, params: dict[str, str], body: dict[str, Any],
                              request: web.Request) -> web.Response:
        interaction = self._interactions.get(params["token"])
        if interaction is None or params["app"] != str(APP_ID):
            return _error(404, 10015, "Unknown Webhook")
        if not interaction.acknowledged:
            return _error(404, 10015, "Unknown Webhook")
        invalid = _validate(body)
        if invalid is not None:
            return invalid
        ephemeral = bool(body.get("flags", 0) & EPHEMERAL)
        if not interaction.original_sent and interaction.deferred_ephemeral is not None:
            # The first followup after a defer replaces the "thinking..." message and keeps the
            # defer's visibility, whatever flags it asks for.
            ephemeral = interaction.deferred_ephemeral
            interaction.original_sent = True
        sent = self._record("followup", interaction.channel_id, body, ephemeral=ephemeral,
                            interaction_id=interaction.id)
        return _json(200, self._message_json(sent))

    async def _route_edit_original(self, params: dict[str, str], body: dict[str, Any],
                                   request: web.Request) -> web.Response:
        interaction = self._interactions.get(params["token"])
        if interaction is None or not interaction.acknowledged:
            return _error(404, 10015, "Unknown Webhook")
        invalid = _validate(body, editing=True)
        if invalid is not None:
            return invalid
        interaction.original_sent = True
        sent = self._record("edit_original", interaction.channel_id, body,
                            ephemeral=bool(interaction.deferred_ephemeral),
                            interaction_id=interaction.id)
        return _json(200, self._message_json(sent))

    def _record(self, via: str, channel_id: int, body: dict[str, Any], *,
                ephemeral: bool = False, interaction_id: int | None = None,
                reference_id: int | None = None) -> SentMessage:
        sent = SentMessage(via=via, channel_id=channel_id, content=body.get("content") or "",
                           embeds=list(body.get("embeds") or []),
                           allowed_mentions=body.get("allowed_mentions"), ephemeral=ephemeral,
                           interaction_id=interaction_id, reference_id=reference_id,
                           id=next(self._ids))
        self.sent_messages.append(sent)
        return sent

    @staticmethod
    def _message_json(sent: SentMessage) -> dict[str, Any]:
        return {
            "id": str(sent.id), "channel_id": str(sent.channel_id), "type": 0,
            "content": sent.content, "embeds": sent.embeds, "author": BOT_USER, "mentions": [],
            "mention_roles": [], "mention_everyone": False, "attachments": [], "components": [],
            "pinned": False, "tts": False, "timestamp": "2026-02-11T09:00:00+00:00",
            "edited_timestamp": None, "flags": EPHEMERAL if sent.ephemeral else 0,
            "webhook_id": str(APP_ID) if sent.interaction_id else None,
        }


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py compares Content-Type with == "application/json"; aiohttp's json_response adds
    # "; charset=utf-8", which would make discord.py treat the body as plain text.
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str,
           errors: dict[str, Any] | None = None) -> web.Response:
    data: dict[str, Any] = {"message": message, "code": code}
    if errors:
        data["errors"] = errors
    return _json(status, data)


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                         "message": f"Must be {limit} or fewer in length."}]}


def _validate(body: dict[str, Any], *, editing: bool = False) -> web.Response | None:
    """Discord's message limits: 400 50035 with an errors tree, or 50006 for an empty message."""
    errors: dict[str, Any] = {}
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > 2000:
        errors["content"] = _too_long(2000)
    if len(embeds) > 10:
        errors["embeds"] = _too_long(10)
    total = 0
    for index, embed in enumerate(embeds[:10]):
        faults: dict[str, Any] = {}
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                faults[key] = _too_long(limit)
        footer = (embed.get("footer") or {}).get("text") or ""
        total += len(footer)
        if len(footer) > 2048:
            faults["footer"] = {"text": _too_long(2048)}
        author = (embed.get("author") or {}).get("name") or ""
        total += len(author)
        if len(author) > 256:
            faults["author"] = {"name": _too_long(256)}
        fields = embed.get("fields") or []
        if len(fields) > 25:
            faults["fields"] = _too_long(25)
        for number, item in enumerate(fields[:25]):
            name, value = item.get("name") or "", item.get("value") or ""
            total += len(name) + len(value)
            if not name or not value or len(name) > 256 or len(value) > 1024:
                faults.setdefault("fields", {})[str(number)] = _too_long(1024)
        if faults:
            errors.setdefault("embeds", {})[str(index)] = faults
    if total > 6000 and "embeds" not in errors:
        errors["embeds"] = {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED",
                                         "message": "Embed size exceeds maximum size of 6000"}]}
    if errors:
        return _error(400, 50035, "Invalid Form Body", errors)
    if not editing and not content.strip() and not embeds:
        return _error(400, 50006, "Cannot send an empty message")
    return None
