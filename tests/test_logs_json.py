"""`log_format: json`: one JSON object a line, with tokens redacted as in the readable log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from briefbot.logs import JsonFormatter, redaction_filter, register_secret, setup_logging

TOKEN = "123456789:AAHjsonTokenForTestsOnly_abcdefghijk"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redaction_filter())
    logger = logging.getLogger("test.jsonlog")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream
    logger.handlers[:] = []


def test_each_record_is_one_json_object_a_line(json_lines: io.StringIO) -> None:
    logger = logging.getLogger("test.jsonlog")
    logger.info("feed %s: ok: %d new", "harbour", 2)
    logger.warning("second\nline")
    first, second = (json.loads(line) for line in json_lines.getvalue().splitlines())
    assert first["message"] == "feed harbour: ok: 2 new"
    assert (first["level"], first["logger"]) == ("info", "test.jsonlog")
    assert first["time"].endswith("+00:00")
    assert second["message"] == "second\nline"


def test_a_token_in_a_json_message_or_traceback_is_redacted(json_lines: io.StringIO) -> None:
    register_secret(TOKEN)
    logger = logging.getLogger("test.jsonlog")
    logger.info("GET https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise RuntimeError(f"token {TOKEN} rejected")
    except RuntimeError:
        logger.exception("start failed")
    text = json_lines.getvalue()
    assert TOKEN not in text
    message, failure = (json.loads(line) for line in text.splitlines())
    assert message["message"] == "GET https://api.telegram.org/bot[REDACTED]/getMe"
    assert "RuntimeError: token [REDACTED] rejected" in failure["exception"]


def test_setup_logging_switches_the_stderr_handler_to_json() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging("info", fmt="json")
        ours = [h for h in root.handlers if getattr(h, "_briefbot", False)]
        assert ours and all(isinstance(h.formatter, JsonFormatter) for h in ours)
        setup_logging("info", fmt="text")
        assert not any(isinstance(h.formatter, JsonFormatter) for h in ours)
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
