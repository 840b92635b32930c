"""The console chat: the adapter seam over stdin and stdout."""

from __future__ import annotations

import io

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
