"""Trace two user-visible paths through briefbot's own modules: a question and a daily briefing.

    .venv/bin/python bench/trace_paths.py

Both run the real `briefbot` command line in a child process against the fake Telegram Bot API
(tests/fakes) on 127.0.0.1; the child records, with a profile hook on every thread:
- each call from one briefbot function into a function of ANOTHER briefbot module (a hop;
  "distinct hops" counts each caller->callee pair once, "calls" counts every crossing);
- every SQL statement sqlite3 executes (a database round trip), and which of them open a write
  transaction (BEGIN IMMEDIATE / BEGIN).

1. Question: `briefbot run`; once polling, "who was at the talks?" is pushed from a private chat;
   the window runs from the push to the fake accepting the reply (a monotonic clock both
   processes share). The long poll that fetched the update counts: it is part of the path.
2. Scheduled briefing: `briefbot send-due --at T` for one config-listed channel due at T. Calls
   and statements count while a frame of the delivery module (`*delivery`) is on the stack, so
   start-up (config, content, schema) is left out.
Figures depend on the code only (not on the machine), so before/after runs compare directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake lives with the tests

ARTICLE = """\
Japan and Brazil agree beef-for-cars trade deal after Geneva talks 🤝
- Marta Oliveira
- March 12, 2026

GENEVA — Japan and Brazil agreed on Wednesday to cut tariffs on beef and car parts over five years.
Trade Minister Kenji Morita, Foreign Trade Secretary Ana Cunha and officials from the \
World Trade Organization were at the talks.
The deal still needs approval from both parliaments, negotiators said.
"""
QUESTION = "who was at the talks?"
AT = "2026-03-13T07:31:00+00:00"


# ---- the child: run the command line with a profile hook ---------------------------------------

def child(out: str, argv: list[str]) -> int:
    import sqlite3
    import threading

    src = str(ROOT / "src" / "briefbot") + os.sep
    asyncio_dir = os.path.dirname(asyncio.__file__) + os.sep
    calls: list[tuple[float, str, str, str, str, bool]] = []
    statements: list[tuple[float, str, bool]] = []

    def module_of(filename: str) -> str | None:
        if not filename.startswith(src):
            return None
        rel = filename[len(src):].removesuffix(".py").replace(os.sep, ".")
        return "briefbot." + rel.removesuffix(".__init__")

    def under_delivery(frame: object) -> bool:
        f = frame
        while f is not None:
            mod = module_of(f.f_code.co_filename)  # type: ignore[attr-defined]
            if mod is not None and mod.endswith("delivery"):
                return True
            f = f.f_back  # type: ignore[attr-defined]
        return False

    def profile(frame: object, event: str, arg: object) -> None:
        if event != "call":
            return
        callee = module_of(frame.f_code.co_filename)  # type: ignore[attr-defined]
        if callee is None:
            return
        back = frame.f_back  # type: ignore[attr-defined]
        # The nearest briefbot frame below: a library in between (PTB, discord.py, to_thread) is
        # transparent, but the event loop is not: a task resumed by the loop, or a callback the
        # loop runs, was not called by the code that started the loop.
        while back is not None and module_of(back.f_code.co_filename) is None:
            if back.f_code.co_filename.startswith(asyncio_dir):
                return
            back = back.f_back
        if back is None:
            return
        caller = module_of(back.f_code.co_filename)
        if caller == callee or frame.f_code.co_name == "<module>":  # type: ignore[attr-defined]
            return  # within one module, or an import
        calls.append((time.monotonic(), caller or "", back.f_code.co_qualname, callee,
                      frame.f_code.co_qualname, under_delivery(frame)))  # type: ignore[attr-defined]

    real_connect = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)  # type: ignore[arg-type]

        def statement(sql: str) -> None:
            statements.append((time.monotonic(), sql.strip().split("\n")[0][:80],
                               under_delivery(sys._getframe(1))))

        connection.set_trace_callback(statement)
        return connection

    sqlite3.connect = connect  # type: ignore[assignment]
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        from briefbot.cli import main

        code = main(argv)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        Path(out).write_text(json.dumps({"calls": calls, "statements": statements}))
    return code


# ---- the parent: drive the fake and summarise ---------------------------------------------------

def summarise(label: str, calls: list[list[object]], statements: list[list[object]]) -> None:
    modules = {c[1] for c in calls} | {c[3] for c in calls}
    distinct = {(c[1], c[2], c[3], c[4]) for c in calls}
    module_edges = Counter((c[1], c[3]) for c in distinct)
    writes = [s for s in statements if str(s[1]).upper().startswith("BEGIN")]
    print(f"== {label}")
    print(f"   briefbot modules on the path: {len(modules)}")
    print(f"   hops (distinct caller->callee functions across modules): {len(distinct)}; "
          f"module pairs: {len(module_edges)}; crossings in all: {len(calls)}")
    print(f"   database round trips: {len(statements)}; write transactions: {len(writes)}")
    print("   modules: " + ", ".join(sorted(m.removeprefix("briefbot.") for m in modules)))
    if "--hops" in sys.argv:
        for caller, caller_fn, callee, callee_fn in sorted(distinct):
            print(f"     {caller.removeprefix('briefbot.')}.{caller_fn} -> "
                  f"{callee.removeprefix('briefbot.')}.{callee_fn}")


async def question(workdir: Path, env: dict[str, str]) -> None:
    from fakes.fake_telegram import FakeTelegram

    async with FakeTelegram(username="briefbot_trace_bot") as fake:
        config = write_config(workdir, fake.base_url, fake.base_file_url, channel=False)
        out = workdir / "question.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", str(out), "--config", str(config), "run",
            env=env | {"TELEGRAM_BOT_TOKEN": fake.token},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        await fake.wait_until_polling(timeout=60)
        await asyncio.sleep(2)  # let start-up work (warm-up thread, first reload) settle
        pushed = time.monotonic()
        fake.push_message(QUESTION, chat_id=4242)
        [reply] = await fake.wait_for_messages(1, chat_id=4242, timeout=60)
        replied = time.monotonic()
        await asyncio.sleep(0.5)
        process.terminate()
        _, stderr = await process.communicate()
        if not out.exists():
            sys.exit(f"the child wrote no trace: {stderr.decode()[-2000:]}")
        data = json.loads(out.read_text())
        print(f"   reply: {reply.parsed_text[:100]!r}")
        summarise("question: push -> reply accepted (briefbot run, fake Telegram)",
                  [c for c in data["calls"] if pushed <= c[0] <= replied],
                  [s for s in data["statements"] if pushed <= s[0] <= replied])


async def briefing(workdir: Path, env: dict[str, str]) -> None:
    from fakes.fake_telegram import FakeTelegram

    async with FakeTelegram(username="briefbot_trace_bot") as fake:
        config = write_config(workdir, fake.base_url, fake.base_file_url, channel=True)
        fake.add_chat(5001, "channel", title="Morning news")
        out = workdir / "briefing.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", str(out), "--config", str(config), "send-due",
            "--at", AT, env=env | {"TELEGRAM_BOT_TOKEN": fake.token},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, _ = await process.communicate()
        sent = fake.messages_to(5001)
        print(f"   send-due exit {process.returncode}, {len(sent)} message(s) to the channel: "
              f"{stdout.decode().strip()[:100]!r}")
        data = json.loads(out.read_text())
        summarise("scheduled briefing: one channel, one part (briefbot send-due)",
                  [c for c in data["calls"] if c[5]], [s for s in data["statements"] if s[2]])


def write_config(workdir: Path, base_url: str, base_file_url: str, *, channel: bool) -> Path:
    content = workdir / "content"
    content.mkdir(exist_ok=True)
    (content / "talks.txt").write_text(ARTICLE, encoding="utf-8")
    name = "briefing" if channel else "question"
    channel_line = '\n    - {chat_id: 5001, time: "07:30", timezone: UTC}'
    channels = "\n  channels:" + channel_line if channel else ""
    config = workdir / f"{name}.yaml"
    config.write_text(
        f"content_dir: {content}\ndatabase: {workdir / (name + '.sqlite3')}\n"
        "reload_seconds: 3600\n"
        f"telegram:\n  base_url: {base_url}\n  base_file_url: {base_file_url}{channels}\n",
        encoding="utf-8")
    return config


async def parent() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])
    with tempfile.TemporaryDirectory() as folder:
        await question(Path(folder), env)
        await briefing(Path(folder), env)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], sys.argv[3:]))
    asyncio.run(parent())
