"""The command line: run, chat, preview, ask, check, send-due, fetch, status (a contract other
tools rely on)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from briefbot import __version__
from briefbot.articles import Article, Library
from briefbot.briefing import make_briefing
from briefbot.config import (
    READER_KEY_ENV,
    Config,
    ReaderConfig,
    load_config,
)
from briefbot.daily.schedule import parse_instant
from briefbot.errors import BriefbotError, ConfigError, StorageError
from briefbot.logs import redaction_filter, setup_logging, shown_url
from briefbot.messages import Reply
from briefbot.platforms import PLATFORMS
from briefbot.qa import Answer, QAIndex
from briefbot.render import plain

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("briefbot")


def _parser() -> argparse.ArgumentParser:
    # Global options work before or after the subcommand; SUPPRESS keeps a later default from
    # overwriting one given earlier.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (default: ./config.yaml)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        default=argparse.SUPPRESS, help="how much to log (default: info)")
    parser = argparse.ArgumentParser(
        prog="briefbot", parents=[common],
        description="News briefings and cited answers for "
                    f"{' and '.join(p.title for p in PLATFORMS)}.",
    )
    parser.add_argument("--version", action="version", version=f"briefbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common],
                   help="serve every platform with a token; without one, the console chat")
    sub.add_parser("chat", parents=[common], help="chat with the bot in this terminal")
    preview = sub.add_parser("preview", parents=[common],
                             help="show the briefing readers will get")
    preview.add_argument("id", nargs="?", help="article id (default: the newest)")
    preview.add_argument("--platform", choices=[*_previews()], default="plain")
    ask = sub.add_parser("ask", parents=[common], help="answer questions from the articles")
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("--content", type=Path, help="article folder (overrides content_dir)")
    ask.add_argument("--article", help="answer from this article only")
    ask.add_argument("--json", action="store_true", help="one JSON object a line per question")
    sub.add_parser("check", parents=[common], help="validate config and every article")
    send_due = sub.add_parser("send-due", parents=[common],
                              help="deliver the daily briefings that are due, then exit")
    send_due.add_argument(
        "--at", help="pretend it is this time (ISO-8601, e.g. 2026-02-12T07:30+01:00)"
    )
    sub.add_parser("fetch", parents=[common],
                   help="fetch every feed once into the content folder, then exit")
    status = sub.add_parser("status", parents=[common],
                            help="articles, feeds, subscriptions and the last delivery pass")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--check", action="store_true",
                        help="exit 1 when something needs a person (for monitoring)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    config_path: Path = getattr(args, "config", Path("config.yaml"))
    explicit_config = hasattr(args, "config")
    try:
        config = load_config(config_path, required=explicit_config)
        console = args.command == "chat" or (
            args.command == "run" and not any(s.token for s in config.platforms)
        )
        # In the console chat, routine INFO lines would land between the replies.
        # --log-level wins over config.yaml's log_level, which wins over the command's default.
        level = getattr(args, "log_level", None) or config.log_level or (
            "warning" if console else "info")
        setup_logging(level, fmt=config.log_format)
        return _dispatch(args, config)
    except (ConfigError, StorageError) as exc:
        # A token pasted into the wrong key comes back in "key: 'value' is not …": never print it.
        print(f"briefbot: {redaction_filter().redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BriefbotError as exc:
        print(f"briefbot: {redaction_filter().redact(str(exc))}", file=sys.stderr)
        return EXIT_CONTENT
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # The reader of our output went away (`briefbot preview | head`): what it wanted it
        # got. Point stdout at /dev/null so the flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_OK


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command
    if command == "ask":
        return _ask(args, config)
    if command == "check":
        return _check(config)
    if command == "preview":
        return _preview(args, config)
    if command == "status":
        return _status(args, config)
    if command == "fetch":
        return _fetch(config)
    # Imported here so `ask`, `check` and `preview` start fast, without the platform SDKs.
    from briefbot import app

    if command == "chat":
        return asyncio.run(app.chat(config))
    if command == "run":
        return asyncio.run(app.run(config))
    if command == "send-due":
        at = _parse_at(args.at, config.timezone) if args.at else dt.datetime.now(dt.UTC)
        _require_a_token(config)
        return asyncio.run(app.send_due(config, at))
    raise AssertionError(command)


def _require_a_token(config: Config) -> None:
    """send-due with no platform token would deliver nothing and exit 0: cron would never
    notice. Say which variables are missing, and where cron reads them from."""
    if any(settings.token is not None for settings in config.platforms):
        return
    raise ConfigError(
        f"send-due: neither {' nor '.join(p.token_env for p in PLATFORMS)} is set, so no "
        "briefing can be delivered. Set one in the environment send-due runs in; cron does "
        "not read your shell's: deploy/briefbot.cron loads them from /etc/briefbot/briefbot.env"
    )


AT_YEARS = (1970, 9998)  # what `send-due --at` accepts


def _parse_at(value: str, zone: str) -> dt.datetime:
    """An ISO-8601 time; without an offset it is read in the config's `timezone`."""
    out_of_range = ConfigError(
        f"--at: {value!r} is out of range; write a time between the years {AT_YEARS[0]} and "
        f"{AT_YEARS[1]}, e.g. 2026-02-12T07:30:00+01:00")
    try:
        at = parse_instant(value, zone)
    except OverflowError:
        raise out_of_range from None
    except ValueError:
        raise ConfigError(
            f"--at: {value!r} is not an ISO-8601 time; write e.g. 2026-02-12T07:30:00+01:00"
        ) from None
    if not AT_YEARS[0] <= at.year <= AT_YEARS[1]:
        # A chat's local date and next briefing are worked out from it: near year 1 or 9999
        # they fall off the calendar (OverflowError).
        raise out_of_range
    return at


def _load_library(folder: Path) -> Library:
    library = Library(folder)
    report = library.reload()
    for problem in report.problems:
        log.warning("%s", problem)
    return library


def _ask(args: argparse.Namespace, config: Config) -> int:
    if not all(question.strip() for question in args.questions):
        print('briefbot: an empty question; write it in quotes, like: ask "who was at the talks?"',
              file=sys.stderr)
        return EXIT_USAGE
    folder = args.content.resolve() if args.content else config.content_dir
    if not folder.is_dir():
        print(f"briefbot: no article folder at {folder}; pass --content DIR or set content_dir",
              file=sys.stderr)
        return EXIT_USAGE
    library = _load_library(folder)
    if args.article and library.find(args.article) is None:
        known = ", ".join(a.id for a in library.articles[:10]) or "none"
        print(f"briefbot: no article {args.article!r} (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    hint = _unquoted_question_hint(args.questions)
    if hint:
        print(hint, file=sys.stderr)
    qa = QAIndex()
    qa.update(library.articles)
    answers = [qa.ask(question, article_id=args.article) for question in args.questions]
    outcomes: list[str | None] = [None] * len(answers)
    if config.reader is not None:
        answers, read = asyncio.run(_read(config.reader, library, answers))
        outcomes = list(read)
    for question, answer, outcome in zip(args.questions, answers, outcomes, strict=True):
        if args.json:
            row: dict[str, object] = {
                "question": question,
                "found": answer.found,
                "answer": answer.text,
                "source": answer.source,
                "article": answer.article_id,
                "engine": answer.origin,
            }
            if config.reader is not None:
                row["reader"] = outcome  # what became of it there (qa.reader.OUTCOMES)
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"Q: {question}\nA: {answer.text}\n")
    sys.stdout.flush()
    return EXIT_OK


def _unquoted_question_hint(questions: list[str]) -> str | None:
    """A hint for stderr when the arguments look like one question typed without quotes (three
    or more single words), else None; each argument is still asked as a question of its own."""
    if len(questions) < 3 or any(len(question.split()) != 1 for question in questions):
        return None
    return (f"briefbot: asked {len(questions)} one-word questions; to ask one, quote it: "
            f'ask "{" ".join(questions)}"')


async def _read(config: ReaderConfig, library: Library,
                answers: list[Answer]) -> tuple[list[Answer], list[str]]:
    """The offline answers, each replaced by the reader's where it is grounded (qa.reader),
    and what became of each at the reader (an OUTCOMES entry)."""
    from briefbot.qa.reader import Reader

    reader = Reader(config)

    async def improve(answer: Answer) -> tuple[Answer, str]:
        article: Article | None = library.find(answer.article_id) if answer.article_id else None
        if article is None:
            return answer, "not-asked"
        return await reader.improve_traced(answer, article)

    try:
        done = await asyncio.gather(*(improve(answer) for answer in answers))
    finally:
        await reader.aclose()
    return [answer for answer, _ in done], [outcome for _, outcome in done]


def _database_problem(path: Path) -> str | None:
    """Why the database could not be created or written at `path`, if it could not."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    problem = f"database: {path} cannot be written; point it at a file in a writable folder"
    if path.is_dir():
        return (f"database: {path} is a folder; name a file inside it, e.g. "
                f"{path / 'briefbot.sqlite3'}")
    if path.exists():
        return None if os.access(path, os.W_OK) else problem
    try:  # a real write, since permission bits say little to root
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return problem
    return None


def _check(config: Config) -> int:
    where = config.source or "defaults (no config file)"
    database = _database_problem(config.database)
    if database is not None:
        raise ConfigError(database)
    print(f"config: {where}: OK")
    if config.reader is not None:
        key = "set" if config.reader.api_key is not None else "not set"
        print(f"qa.reader: {config.reader.model} at {shown_url(config.reader.url)}, timeout "
              f"{config.reader.timeout:g} s, {READER_KEY_ENV} {key}; answers are checked "
              "against the article")
    library = Library(config.content_dir)
    report = library.reload()
    for problem in report.problems:
        # A file is named within the folder; the folder itself (missing, a loop) by its path.
        inside = config.content_dir.name if problem.path != config.content_dir else (
            problem.path.parent)
        print(f"{inside}/{problem}")
    for article in library.articles:
        if article.date is None:
            # Its parse warning says it sorts as oldest; say what that means for readers.
            name = article.path.name if article.path is not None else article.id
            print(f"{config.content_dir.name}/{name}: no date, so daily briefings will never "
                  f"send it (only dated articles are news to a chat); /brief {article.id} still "
                  "shows it. Add its date to send it")
    for skipped in library.skipped:
        # Not a fault (exit 0): said so a file dropped in the wrong format is not a mystery.
        print(f"{config.content_dir.name}/{skipped}")
    count = len(library.articles)
    faults = len(report.problems)
    others = len(library.skipped)
    also = f"; {others} file{'s' if others != 1 else ''} skipped" if others else ""
    print(f"{count} article{'s' if count != 1 else ''} loaded from {config.content_dir}; "
          f"{faults} problem{'s' if faults != 1 else ''}{also}")
    failing = _feed_lines(config)
    return EXIT_CONTENT if faults or failing else EXIT_OK


def _feed_lines(config: Config) -> int:
    """Print each feed's last fetch (from the database) for `check`; returns how many failed."""
    from briefbot.status import collect_status

    if not config.feeds:
        return 0
    status = collect_status(config, dt.datetime.now(dt.UTC))
    failing = 0
    for feed in status.feeds:
        if feed["result"] == "failed":
            failing += 1
            print(f"feed {feed['name']}: error: the last fetch failed: {feed['message']}")
        elif feed["result"] is None:
            print(f"feed {feed['name']}: not fetched yet; run `briefbot fetch`")
        else:
            print(f"feed {feed['name']}: {feed['result']} at {feed['last_fetch']}")
    return failing


def _status(args: argparse.Namespace, config: Config) -> int:
    from briefbot.status import collect_status, render_text

    try:
        status = collect_status(config, dt.datetime.now(dt.UTC))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"database: cannot read {config.database} ({exc})") from None
    if args.json:
        print(json.dumps(status.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_text(status))
    return EXIT_CONTENT if args.check and status.attention else EXIT_OK


def _fetch(config: Config) -> int:
    from briefbot.operations import fetch_feeds
    from briefbot.runstate import RunState

    if not config.feeds:
        # Not an error: the cron line in deploy/ runs `fetch` whether feeds are set up or not.
        print("fetch: no feeds in the config, nothing to fetch (add e.g. "
              "feeds: [{url: https://example.org/rss.xml, name: example}])")
        return EXIT_OK
    try:
        state = RunState(config.database)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"database: cannot open {config.database} ({exc}); point it at a "
                          "file in a folder briefbot may write to") from None
    try:
        results, retention = asyncio.run(fetch_feeds(config, state, dt.datetime.now(dt.UTC)))
    finally:
        state.close()
    for result in results:
        print(result)
    if retention.removed:
        print(f"retention: removed {len(retention.removed)} fetched article(s) older than "
              f"{config.keep_days} days")
    if retention.kept_edited:
        print(f"retention: kept {len(retention.kept_edited)} old fetched article(s) a person "
              "edited")
    return EXIT_CONTENT if any(r.outcome == "failed" for r in results) else EXIT_OK


def _preview(args: argparse.Namespace, config: Config) -> int:
    library = _load_library(config.content_dir)
    article = library.find(args.id) if args.id else library.latest()
    if article is None and args.id:
        # the same answer as `ask --article nope`: a usage error, with the ids there are
        known = ", ".join(a.id for a in library.articles[:10]) or "none"
        print(f"briefbot: no article {args.id!r} (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    if article is None:
        print(f"briefbot: no articles in {config.content_dir}; see `briefbot check`",
              file=sys.stderr)
        return EXIT_CONTENT
    briefing = make_briefing(article)
    print(_previews()[args.platform](briefing))
    return EXIT_OK


def _previews() -> dict[str, Callable[[Reply], str]]:
    """What `preview --platform` can show: each platform's messages, or plain text."""
    return {platform.name: platform.preview for platform in PLATFORMS} | {"plain": plain.preview}
