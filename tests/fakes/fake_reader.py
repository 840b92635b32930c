"""A fake OpenAI-compatible chat-completions endpoint on 127.0.0.1, replying as a test scripts."""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MODEL = "fake-reader-7b"


@dataclass(frozen=True, slots=True)
class Request:
    """One chat-completions request the fake received."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def question(self) -> str:
        user = self.body["messages"][-1]["content"]
        match = re.search(r"^Question: (.*)$", user, re.MULTILINE)
        return match.group(1) if match else ""

    @property
    def user_message(self) -> str:
        return str(self.body["messages"][-1]["content"])

    @property
    def is_check(self) -> bool:
        """Whether this is the reader's self-check (does the sentence give the answer?)."""
        return str(self.body["messages"][0]["content"]).startswith("You check")

    def line(self, label: str) -> str:
        """The text after `label: ` on a line of the user message ("" when none)."""
        match = re.search(rf"^{re.escape(label)}: (.*)$", self.user_message, re.MULTILINE)
        return match.group(1) if match else ""


# What the script returns for a request: message content (a 200 chat completion), a raw
# aiohttp response (errors, bodies that are not a completion), or None to never answer.
Script = Callable[[Request], "str | web.Response | None"]


def says(answer: str | None, quote: str | None = None) -> str:
    """The message content of a model that follows the format."""
    return json.dumps({"answer": answer, "quote": quote})


def verdict(yes: bool) -> str:
    """The message content of a self-check that follows the format."""
    return json.dumps({"verdict": "yes" if yes else "no"})


def completion(content: str, *, model: str = MODEL,
               logprobs: list[dict[str, Any]] | None = None) -> web.Response:
    """A 200 chat completion holding `content`, with `logprobs` as OpenAI sends them."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": content}}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return web.json_response({"id": "chatcmpl-1", "object": "chat.completion", "model": model,
                              "choices": [choice]})


def weighed_verdict(p_yes: float) -> web.Response:
    """A self-check saying yes, with token probabilities: P(yes) = `p_yes`, the rest no."""
    def token(text: str, p: float, alternatives: list[tuple[str, float]]) -> dict[str, Any]:
        top = [{"token": t, "logprob": math.log(q), "bytes": None} for t, q in alternatives]
        return {"token": text, "logprob": math.log(p), "bytes": None, "top_logprobs": top}

    tokens = [token('{"', 0.9, [('{"', 0.9)]), token("ver", 1.0, [("ver", 1.0)]),
              token("dict", 1.0, [("dict", 1.0)]), token('":', 1.0, [('":', 1.0)]),
              token(' "', 1.0, [(' "', 1.0)]),
              token("yes", p_yes, [("yes", p_yes), ("no", 1 - p_yes)]),
              token('"}', 1.0, [('"}', 1.0)])]
    return completion(verdict(True), logprobs=tokens)


def agrees(request: Request) -> str:
    """A self-check that says yes to everything."""
    return verdict(True)


class FakeReader:
    """POST /v1/chat/completions; counts requests in flight. `async with FakeReader(script)`.

    `script` answers the questions (kept in `requests`), `check` the self-checks (kept in
    `checks`); the default check says yes.
    """

    def __init__(self, script: Script, check: Script = agrees) -> None:
        self.script = script
        self.check = check
        self.requests: list[Request] = []
        self.checks: list[Request] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.hold: asyncio.Event | None = None  # set: requests wait for it before answering
        self._closing = asyncio.Event()
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FakeReader:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # lets requests that never answer end, so cleanup does not wait
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _complete(self, request: web.Request) -> web.Response:
        seen = Request(await request.json(), dict(request.headers))
        (self.checks if seen.is_check else self.requests).append(seen)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self._arrived.set()
        try:
            if self.hold is not None:
                await self._until(self.hold)
            reply = (self.check if seen.is_check else self.script)(seen)
            if reply is None:
                await self._closing.wait()
                return web.Response(status=503)
            if isinstance(reply, web.Response):
                return reply
            return web.json_response({
                "id": "chatcmpl-1", "object": "chat.completion", "model": seen.body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply}}],
            })
        finally:
            self.in_flight -= 1

    async def wait_in_flight(self, n: int) -> None:
        """Until at least `n` requests are being answered at once."""
        async with asyncio.timeout(5):
            while self.in_flight < n:
                self._arrived.clear()
                await self._arrived.wait()

    async def _until(self, event: asyncio.Event) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        released = asyncio.ensure_future(event.wait())
        await asyncio.wait({closing, released}, return_when=asyncio.FIRST_COMPLETED)
        closing.cancel()
        released.cancel()


def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
