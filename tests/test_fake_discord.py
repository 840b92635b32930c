"""The fake Discord itself behaves like Discord where discord.py and briefbot can tell."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fakes.fake_discord import (
    GENERAL_ID,
    MESSAGE_CONTENT_INTENT,
    TOKEN,
    FakeDiscord,
)

AUTH = {"Authorization": f"Bot {TOKEN}"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_message(
    fake: FakeDiscord, http: aiohttp.ClientSession, body: dict[str, Any]
) -> tuple[int, dict[str, str], Any]:
    url = f"{fake.api_base_url}/channels/{GENERAL_ID}/messages"
    async with http.post(url, json=body, headers=AUTH) as response:
        return response.status, dict(response.headers), await response.json()


async def test_json_answers_say_exactly_application_json(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    """discord.py compares the header with ==, so a charset suffix would break it."""
    async with http.get(f"{fake.api_base_url}/users/@me", headers=AUTH) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["bot"] is True


async def test_a_request_without_the_bot_token_is_unauthorized(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.api_base_url}/users/@me") as response:
        assert response.status == 401


async def test_an_embed_over_discords_limits_is_refused_with_the_path_of_the_fault(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    status, _, body = await post_message(fake, http, {"embeds": [{"description": "x" * 4097}]})
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["embeds"]["0"]["description"]["_errors"][0]["message"] == (
        "Must be 4096 or fewer in length."
    )
    assert fake.sent_messages == []


async def test_six_thousand_characters_across_embeds_is_the_most_one_message_holds(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    two = [{"description": "x" * 3000}, {"description": "y" * 3000}]
    assert (await post_message(fake, http, {"embeds": two}))[0] == 200
    two[1]["title"] = "one more"
    status, _, body = await post_message(fake, http, {"embeds": two})
    assert status == 400 and "6000" in str(body["errors"])


async def test_long_content_and_empty_messages_are_refused(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    status, _, body = await post_message(fake, http, {"content": "x" * 2001})
    assert (status, body["code"]) == (400, 50035)
    status, _, body = await post_message(fake, http, {"content": "   "})
    assert (status, body["code"]) == (400, 50006)


async def test_an_injected_rate_limit_looks_like_discords_and_is_not_recorded_as_sent(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    fake.inject("ratelimit", route="messages", retry_after=1.5)
    status, headers, body = await post_message(fake, http, {"content": "hi"})
    assert status == 429 and "Via" in headers and body["retry_after"] == 1.5
    assert fake.sent_messages == []
    assert (await post_message(fake, http, {"content": "hi"}))[0] == 200
    assert [m.content for m in fake.sent_messages] == ["hi"]


async def test_rate_limit_headers_count_down_to_zero(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeDiscord(rate_limits=True) as fake:
        remaining = []
        for _ in range(5):
            _, headers, _ = await post_message(fake, http, {"content": "hi"})
            remaining.append(headers["X-RateLimit-Remaining"])
        status, _, _ = await post_message(fake, http, {"content": "hi"})
    assert remaining == ["4", "3", "2", "1", "0"]
    assert status == 429


async def test_allowed_mentions_are_recorded_so_pings_can_be_checked(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    await post_message(fake, http, {"content": "@everyone look"})
    await post_message(fake, http, {"content": "@everyone look", "allowed_mentions": {"parse": []}})
    loud, quiet = fake.sent_messages
    assert loud.can_ping_everyone() and not quiet.can_ping_everyone()


class Gateway:
    """A raw gateway client speaking JSON text frames."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = await self.ws.receive_json(timeout=5)
        return message

    async def identify(self, intents: int) -> tuple[str, str, int]:
        assert (await self.receive())["op"] == 10
        await self.ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": intents,
                                                "properties": {}}})
        ready = await self.receive()
        guild = await self.receive()
        assert (ready["t"], guild["t"]) == ("READY", "GUILD_CREATE")
        return ready["d"]["session_id"], ready["d"]["resume_gateway_url"], guild["s"]


async def test_resume_replays_missed_events_then_says_resumed(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(fake.gateway_url) as ws:
        session_id, resume_url, seq = await Gateway(ws).identify(MESSAGE_CONTENT_INTENT)
        await fake.disconnect(4000)
        assert (await ws.receive()).data == 4000
    await fake.dispatch_message("sent while the bot was away")
    async with http.ws_connect(resume_url) as ws:
        gateway = Gateway(ws)
        assert (await gateway.receive())["op"] == 10
        await ws.send_json({"op": 6, "d": {"token": TOKEN, "session_id": session_id,
                                           "seq": seq}})
        missed, resumed = await gateway.receive(), await gateway.receive()
    assert (missed["t"], missed["d"]["content"]) == ("MESSAGE_CREATE",
                                                     "sent while the bot was away")
    assert (resumed["t"], resumed["d"]) == ("RESUMED", {})
    assert fake.gateway_log == ["IDENTIFY", "close 4000", "RESUME"]


async def test_without_the_content_intent_only_mentions_carry_text(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(fake.gateway_url) as ws:
        gateway = Gateway(ws)
        await gateway.identify(intents=1 << 9)
        await fake.dispatch_message("talking among ourselves")
        await fake.dispatch_message("a question", mentions_bot=True)
        plain, mention = await gateway.receive(), await gateway.receive()
    assert plain["d"]["content"] == ""
    assert mention["d"]["content"].endswith("a question")


async def test_asking_for_a_privileged_intent_that_is_not_enabled_closes_with_4014(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeDiscord(message_content_enabled=False) as fake, http.ws_connect(
        fake.gateway_url
    ) as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": MESSAGE_CONTENT_INTENT}})
        closed = await ws.receive(timeout=5)
    assert closed.data == 4014


async def test_an_interaction_can_be_answered_only_once(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(fake.gateway_url) as ws:
        await Gateway(ws).identify(0)
        fake.commands[None] = [{"id": "1", "name": "latest", "options": []}]
        interaction_id = await fake.dispatch_slash("latest")
    url = f"{fake.api_base_url}/interactions/{interaction_id}/interaction-token-{interaction_id}"
    body = {"type": 4, "data": {"content": "first", "flags": 64}}
    async with http.post(f"{url}/callback?with_response=1", json=body) as response:
        first = await response.json()
    async with http.post(f"{url}/callback", json=body) as response:
        second = response.status, (await response.json())["code"]
    assert first["resource"]["message"]["content"] == "first"
    assert second == (400, 40060)
    [sent] = fake.sent_messages
    assert sent.via == "interaction" and sent.ephemeral
