"""The console chat: the same adapter seam as Telegram and Discord, over stdin and stdout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from briefbot.messages import CONSOLE, Incoming, Reply
from briefbot.ports import Handler
from briefbot.render.plain import render_plain
from briefbot.respond import respond

HISTORY_FILE = Path.home() / ".briefbot_history"


PROMPT = "you> "


class ConsoleAdapter:
    """Reads lines as messages from one person and prints the replies."""

    platform = CONSOLE

    def __init__(
        self,
        handler: Handler,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        chat_id: str = "console",
        receive: bool = True,
    ) -> None:
        self._handler = handler
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._chat_id = chat_id
        self._receive = receive
        self._interactive = self._stdin.isatty() and self._stdout.isatty()
        self._at_prompt = False  # input() is waiting: a log line must not land on the prompt
        self._wrapped: list[tuple[logging.Handler, logging.Handler]] = []
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()  # set at end of input
        # In a terminal the prompt waits until the replies are printed, so they don't interleave.
        self._replied = threading.Event()

    async def start(self) -> None:
        if self._receive and self._task is None:
            if self._interactive:
                self.keep_log_lines_off_the_prompt()
            self._task = asyncio.create_task(self._serve(), name="console-chat")

    def keep_log_lines_off_the_prompt(self, logger: logging.Logger | None = None) -> None:
        """Wrap `logger`'s (default: the root's) terminal handlers so a line logged while the
        prompt waits clears the prompt first and redraws it, with what was typed, after."""
        logger = logger or logging.getLogger()
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler):
                wrapper = _PromptSafe(handler, self)
                logger.removeHandler(handler)
                logger.addHandler(wrapper)
                self._wrapped.append((wrapper, handler))

    def _restore_log_handlers(self, logger: logging.Logger | None = None) -> None:
        logger = logger or logging.getLogger()
        for wrapper, handler in self._wrapped:
            logger.removeHandler(wrapper)
            logger.addHandler(handler)
        self._wrapped.clear()

    def redraw_prompt(self) -> str:
        """What the prompt line shows now: 'you> ' and whatever has been typed after it."""
        typed = ""
        with contextlib.suppress(ImportError):
            import readline

            typed = readline.get_line_buffer()
        return PROMPT + typed

    async def stop(self) -> None:
        self._restore_log_handlers()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.finished.set()

    def render(self, reply: Reply) -> Sequence[str]:
        return [render_plain(reply)]

    async def send_part(
        self, chat_id: str, part: str, *, thread_id: str | None = None
    ) -> None:
        self._stdout.write(f"{part}\n\n")
        self._stdout.flush()

    async def _serve(self) -> None:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A daemon thread, not the default executor: a blocking input() must never keep the
        # process alive after the loop has finished.
        reader = threading.Thread(
            target=self._read_lines, args=(loop, lines), name="console-input", daemon=True
        )
        reader.start()
        try:
            while (line := await lines.get()) is not None:
                try:
                    if line.strip():
                        await self._answer(line)
                finally:
                    self._replied.set()
        finally:
            self._replied.set()
            self.finished.set()

    async def _answer(self, line: str) -> None:
        incoming = Incoming(self.platform, self._chat_id, "console-user", line)
        await respond(incoming, self._handler, self.render, self._print)

    async def _print(self, reply: Reply, part: str) -> None:
        await self.send_part(self._chat_id, part)

    def _read_lines(
        self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]
    ) -> None:
        if self._interactive:
            self._setup_readline()
        try:
            while True:
                if self._interactive:
                    try:
                        self._at_prompt = True
                        line = input(PROMPT)
                    except EOFError:
                        # Ctrl+D: end the prompt's line, so the shell's prompt starts on its own.
                        self._stdout.write("\n")
                        self._stdout.flush()
                        break
                    finally:
                        self._at_prompt = False
                    self._replied.clear()
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                    self._replied.wait()
                    continue
                else:
                    raw = self._stdin.readline()
                    if not raw:
                        break
                    line = raw.rstrip("\n")
                loop.call_soon_threadsafe(lines.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass  # stdin closed under us, or the loop is gone: end of input either way
        finally:
            if self._interactive:
                self._save_history()
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lines.put_nowait, None)

    @staticmethod
    def _setup_readline() -> None:
        try:
            import readline  # only for a terminal; absent on some systems
        except ImportError:
            return
        with contextlib.suppress(OSError):
            readline.read_history_file(HISTORY_FILE)
        readline.set_history_length(500)

    @staticmethod
    def _save_history() -> None:
        try:
            import readline
        except ImportError:
            return
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY_FILE)


class _PromptSafe(logging.Handler):
    """A terminal log handler that steps around the console prompt (see
    ConsoleAdapter.keep_log_lines_off_the_prompt). The wrapped handler keeps its own filters,
    so token redaction still applies."""

    def __init__(self, inner: logging.StreamHandler[TextIO], console: ConsoleAdapter) -> None:
        super().__init__(inner.level)
        self.inner = inner
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        at_prompt = self.console._at_prompt
        stream = self.console._stdout
        if at_prompt:
            stream.write("\r\x1b[K")  # back to the line's start, and clear it
            stream.flush()
        self.inner.handle(record)
        if at_prompt:
            stream.write(self.console.redraw_prompt())
            stream.flush()
