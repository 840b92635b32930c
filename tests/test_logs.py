"""Log redaction: a token never reaches a log line, whichever logger or level wrote it."""

from __future__ import annotations

import io
import logging

from briefbot.logs import RedactingFilter

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijk"


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([TOKEN]))
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def test_token_in_a_child_loggers_url_is_redacted() -> None:
    logger, stream = _capture()
    logging.getLogger("test.redaction.httpx").debug(
        'HTTP Request: POST https://api.telegram.org/bot%s/getMe "HTTP/1.1 200 OK"', TOKEN
    )
    logger.info("plain")
    text = stream.getvalue()
    assert TOKEN not in text
    assert "bot[REDACTED]/getMe" in text and "plain" in text


def test_token_in_a_traceback_is_redacted() -> None:
    logger, stream = _capture()
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        logger.exception("startup failed")
    assert TOKEN not in stream.getvalue()
    assert "RuntimeError: The token `[REDACTED]` was rejected" in stream.getvalue()


def test_unregistered_tokens_are_caught_by_shape() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("987654321:ZZZanotherFakeToken_0123456789",), None)
    handler.handle(record)
    assert "987654321:ZZZ" not in stream.getvalue()


def test_a_100_kb_message_is_redacted_exactly() -> None:
    """Long runs of letters and digits around tokens: every token goes, every other byte stays."""
    discord = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
    filler = "x" * 50_000
    digits = "7" * 20_000
    message = f"{filler} {TOKEN} {digits} token={discord} {filler[:30_000]}"
    assert len(message) > 100_000
    redacted = RedactingFilter([TOKEN]).redact(message)
    assert redacted == f"{filler} [REDACTED] {digits} token=[REDACTED] {filler[:30_000]}"


def test_a_token_shape_only_matches_from_the_start_of_a_run() -> None:
    """What keeps redaction linear: no match attempt starts inside a run of token characters.

    Unanchored, the engine retried from every letter of a long run and read to its end each time
    (100 KB of "x" took 15 s, several times per update); `bench/redaction.py` prints the figures.
    """
    from briefbot.logs import _TOKEN_PATTERNS

    telegram, discord = _TOKEN_PATTERNS[:2]
    assert telegram.match("12345678:" + "A" * 25, 1) is None
    assert discord.match("x" * 30 + ".abcde." + "y" * 25, 1) is None
    assert discord.match("x" * 30 + ".abcde." + "y" * 25, 0) is not None


def test_discord_interaction_tokens_are_redacted_from_urls_and_payloads() -> None:
    """They let anyone answer as the bot in that chat for 15 minutes."""
    from briefbot.logs import REDACTED, redaction_filter

    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZmdoaWprbG1u"
    line = (f"POST /api/v10/interactions/1234567/{token}/callback "
            f"{{'type': 2, 'token': '{token}'}} PATCH /webhooks/99/{token}/messages/@original")
    redacted = redaction_filter().redact(line)
    assert token not in redacted and redacted.count(REDACTED) == 3
