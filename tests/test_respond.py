"""The one reply loop: apology on failure, parts in order, unreachable chats reported once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from briefbot.errors import ChatMoved, ChatUnavailable, TemporaryFailure
from briefbot.messages import APOLOGY, Incoming, Notice, Reply
from briefbot.respond import respond


class TinyChat:
    """A platform in miniature: a reply renders as one part per line, sent parts are kept, and
    a refusal, a move or an outage can be set to happen at the nth send."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fault_at: tuple[int, Exception] | None = None
        self.unavailable: list[tuple[str, str, str]] = []
        self.moved: list[tuple[str, str, str]] = []

    def render(self, reply: Reply) -> Sequence[str]:
        assert isinstance(reply, Notice)
        return reply.text.splitlines()

    async def send(self, reply: Reply, part: str) -> None:
        if self.fault_at is not None and self.fault_at[0] == len(self.sent) + 1:
            raise self.fault_at[1]
        self.sent.append(part)

    # ChatEvents

    async def chat_unavailable(self, platform: str, chat_id: str, reason: str) -> None:
        self.unavailable.append((platform, chat_id, reason))

    async def chat_moved(self, platform: str, chat_id: str, new_chat_id: str) -> None:
        self.moved.append((platform, chat_id, new_chat_id))


def said(*texts: str) -> Incoming:
    return Incoming("tiny", "chat-7", "user-3", " ".join(texts))


async def two_notices(incoming: Incoming) -> list[Reply]:
    return [Notice("one\ntwo"), Notice("three")]


async def broken(incoming: Incoming) -> list[Reply]:
    raise RuntimeError("core bug")


async def test_every_part_of_every_reply_is_sent_in_order() -> None:
    chat = TinyChat()
    failure = await respond(said("hi"), two_notices, chat.render, chat.send, chat)
    assert chat.sent == ["one", "two", "three"]
    assert failure is None


async def test_a_failing_handler_gets_the_apology_logged_with_the_chat_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = TinyChat()
    await respond(said("/status"), broken, chat.render, chat.send, chat)
    assert chat.sent == list(chat.render(APOLOGY))
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "chat-7" in record.getMessage() and "/status" in record.getMessage()
    assert "RuntimeError: core bug" in caplog.text  # the traceback, for whoever fixes it


async def test_a_question_that_fails_stays_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = TinyChat()
    await respond(said("who", "chaired", "the", "talks?"), broken, chat.render, chat.send, chat)
    assert "chaired" not in caplog.text


async def test_an_unreachable_chat_is_reported_once_and_sending_stops() -> None:
    chat = TinyChat()
    chat.fault_at = (2, ChatUnavailable("chat-7", "bot was blocked by the user"))
    failure = await respond(said("hi"), two_notices, chat.render, chat.send, chat)
    assert chat.sent == ["one"]
    assert chat.unavailable == [("tiny", "chat-7", "bot was blocked by the user")]
    assert isinstance(failure, ChatUnavailable)


async def test_a_moved_chat_is_reported_with_its_new_id() -> None:
    chat = TinyChat()
    chat.fault_at = (1, ChatMoved("chat-7", "chat-8"))
    await respond(said("hi"), two_notices, chat.render, chat.send, chat)
    assert chat.moved == [("tiny", "chat-7", "chat-8")]
    assert chat.sent == [] and chat.unavailable == []


async def test_an_outage_is_logged_not_reported_as_an_unreachable_chat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = TinyChat()
    chat.fault_at = (3, TemporaryFailure("502 Bad Gateway"))
    failure = await respond(said("hi"), two_notices, chat.render, chat.send, chat)
    assert isinstance(failure, TemporaryFailure)
    assert chat.sent == ["one", "two"]
    assert chat.unavailable == [] and chat.moved == []
    assert "502 Bad Gateway" in caplog.text


async def test_without_chat_events_a_refusal_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = TinyChat()
    chat.fault_at = (1, ChatUnavailable("chat-7", "kicked"))
    await respond(said("hi"), two_notices, chat.render, chat.send)
    assert "kicked" in caplog.text and chat.unavailable == []
