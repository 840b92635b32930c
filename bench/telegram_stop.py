"""Stop bench: `briefbot run` with 600 questions queued at Telegram gets SIGTERM, then restarts.

    .venv/bin/python bench/telegram_stop.py [--questions 600] [--groups 100] [--stop-after 100]
                                             [--code DIR]

The real `briefbot run` process (the sample content) long-polls FakeTelegram. Every question
is queued before it starts: `--groups` groups, each question from its own user and mentioning
the bot, so each answer is a reply naming the question's message (which tells duplicates
apart). Once `--stop-after` questions are answered it gets SIGTERM; a second `briefbot run`
then starts against the same fake and runs until every question is answered, or until nothing
more arrives for 5 s. Prints the stop time (SIGTERM to exit), the questions answered before
the stop and after the restart, those lost (never answered) and those answered more than once.

`--code DIR` runs the briefbot in DIR/src instead of this checkout's (for a "before" figure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake lives with the tests

from fakes.fake_telegram import FakeTelegram  # noqa: E402

BOT = "briefbot_bench_bot"
QUESTIONS = [
    "who was at the talks?",
    "when was the channel suspended?",
    "where were the talks?",
    "who announced it?",
    "what did they agree?",
    "who is Alexus Grynkewich?",
]
QUIET_SECONDS = 5.0


def answered(fake: FakeTelegram) -> Counter[int]:
    """How many times each question (by its message id) was answered."""
    return Counter(int(m.params["reply_parameters"]["message_id"]) for m in fake.sent_messages
                   if isinstance(m.params.get("reply_parameters"), dict))


async def start_bot(config: Path, token: str, code: Path | None, log: Path) -> tuple[
        asyncio.subprocess.Process, object]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["TELEGRAM_BOT_TOKEN"] = token
    if code is not None:
        env["PYTHONPATH"] = str(code / "src")
    stderr = log.open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", "--config", str(config), "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
    )
    return process, stderr


async def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def bench(questions: int, groups: int, stop_after: int, code: Path | None,
                show_log: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        log = Path(folder) / "briefbot.log"
        async with FakeTelegram(username=BOT) as fake:
            config.write_text(
                f"content_dir: {ROOT / 'content'}\ndatabase: {Path(folder) / 'db.sqlite3'}\n"
                f"telegram:\n  base_url: {fake.base_url}\n  base_file_url: {fake.base_file_url}\n",
                encoding="utf-8",
            )
            asked: list[int] = []
            for n in range(questions):
                group = -(700_000 + n % groups)
                update = fake.push_message(f"@{BOT} {QUESTIONS[n % len(QUESTIONS)]}",
                                           chat_id=group, chat_type="group", user_id=10_000 + n)
                asked.append(int(update["message"]["message_id"]))

            first, stream = await start_bot(config, fake.token, code, log)
            reached = await wait_for(lambda: sum(answered(fake).values()) >= stop_after, 120)
            signalled = time.monotonic()
            first.send_signal(signal.SIGTERM)
            await first.wait()
            stop_seconds = time.monotonic() - signalled
            stream.close()  # type: ignore[attr-defined]
            before = answered(fake)

            second, stream = await start_bot(config, fake.token, code, log)
            seen = -1
            while sum(answered(fake).values()) != seen:
                seen = sum(answered(fake).values())
                if set(answered(fake)) >= set(asked):
                    break
                await asyncio.sleep(QUIET_SECONDS)
            second.send_signal(signal.SIGTERM)
            await second.wait()
            stream.close()  # type: ignore[attr-defined]
            after = answered(fake) - before
            every = answered(fake)
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"== {questions} questions queued in {groups} groups, SIGTERM after "
          f"{stop_after} answers{'' if reached else ' (never reached: stopped after 120 s)'}"
          f" ({'code in ' + str(code) if code else 'this checkout'})")
    print(f"   stop time (SIGTERM to exit): {stop_seconds:.2f} s, exit status "
          f"{first.returncode}")
    print(f"   answered before the stop: {len(before)}; after the restart: "
          f"{len(set(after) - set(before))}")
    lost = [q for q in asked if q not in every]
    twice = sum(1 for q in asked if every[q] > 1)
    print(f"   lost (never answered): {len(lost)}; answered more than once: {twice}")
    if show_log:
        print("   the bot's log, stopping and starting:")
        for line in lines:
            if any(word in line for word in ("stop", "serving", "left", "SIGTERM")):
                print(f"     {line[:160]}")
    return 0 if not lost and not twice else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--stop-after", type=int, default=100)
    parser.add_argument("--code", type=Path, default=None,
                        help="a checkout whose src/ is run instead of this one's")
    parser.add_argument("--show-log", action="store_true",
                        help="print the bot's log lines about starting and stopping")
    args = parser.parse_args()
    return asyncio.run(bench(args.questions, args.groups, args.stop_after, args.code,
                             args.show_log))


if __name__ == "__main__":
    sys.exit(main())
