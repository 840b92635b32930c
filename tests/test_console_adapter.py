"""The console chat: the adapter seam over stdin and stdout."""

from __future__ import annotations

import io

from briefbot import logs
from briefbot.adapters.console_adapter import ConsoleAdapter
from briefbot.conversation import Incoming, Notice, Reply


async def test_a_failing_answer_gets_an_apology_and_the_chat_goes_on() -> None:
    async def handler(incoming: Incoming) -> list[Reply]:
        if incoming.text == "boom":
            raise OSError("File name too long")
        return [Notice(f"echo {incoming.text}")]

    out = io.StringIO()
    console = ConsoleAdapter(handler, stdin=io.StringIO("first\nboom\nlast\n"), stdout=out)
    await console.start()
    await console.finished.wait()
    await console.stop()
    text = out.getvalue()
    assert "echo first" in text
    assert "Sorry, something went wrong" in text
    assert "echo last" in text  # the chat carried on after the failure


def test_a_log_line_while_the_prompt_waits_clears_it_and_redraws_it_after() -> None:
    """Content warnings arriving while someone types must not be printed over 'you> '."""
    import logging

    from briefbot.logs import REDACTED, register_secret

    async def nothing(incoming: object) -> list[object]:
        return []

    screen = io.StringIO()
    console = ConsoleAdapter(nothing, stdin=io.StringIO(), stdout=screen)
    logger = logging.getLogger("briefbot.test.prompt")
    logger.propagate = False
    terminal = logging.StreamHandler(screen)
    terminal.addFilter(logs.redaction_filter())
    logger.addHandler(terminal)
    register_secret("123456:prompt-secret-token-value-abcdef")
    try:
        console.keep_log_lines_off_the_prompt(logger)
        console._at_prompt = True
        logger.warning("content: bad.txt:1: no headline (123456:prompt-secret-token-value-abcdef)")
        console._at_prompt = False
        logger.warning("after the answer")
    finally:
        console._restore_log_handlers(logger)
        logger.handlers.clear()
    text = screen.getvalue()
    assert text.startswith("\r\x1b[Kcontent: bad.txt:1: no headline")
    assert REDACTED in text and "prompt-secret" not in text
    assert "\nyou> after the answer\n" in text  # redrawn once, then a plain line
