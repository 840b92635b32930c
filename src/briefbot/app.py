"""Composition root: config -> library -> Q&A -> store -> conversation -> adapters -> run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from briefbot.adapters.console_adapter import ConsoleAdapter
from briefbot.articles import ContentProblem, Library, ReloadReport, SkippedFile
from briefbot.budget import Budget
from briefbot.config import Config
from briefbot.conversation import Conversation, Incoming, Notice, Reply
from briefbot.daily.delivery import Delivery
from briefbot.daily.delivery import send_due as deliver_due
from briefbot.daily.subscriptions import SubscriptionService, sync_config_subscriptions
from briefbot.errors import ConfigError, StorageError, TemporaryFailure
from briefbot.logs import register_secret
from briefbot.operations import FeedLoop, RecordingDelivery, record_pass
from briefbot.platforms import PLATFORMS
from briefbot.ports import STOP_GRACE_SECONDS, AnyAdapter
from briefbot.qa import QAIndex, embed
from briefbot.runstate import RunState
from briefbot.store import open_store

if TYPE_CHECKING:
    from briefbot.qa.reader import Reader

log = logging.getLogger("briefbot.app")
EXIT_RETRY = 3  # send-due: something stayed due (platform down, temporary failures); run again
START_RETRY_FIRST_SECONDS = 1.0
START_RETRY_MAX_SECONDS = 60.0


class App:
    """The core, built once from the config, and the adapters it serves."""

    def __init__(self, config: Config) -> None:
        self.config = config
        for settings in config.platforms:
            if settings.token is not None:
                register_secret(settings.token.reveal())
        self.library = Library(config.content_dir)
        self._logged_problems: frozenset[ContentProblem] = frozenset()
        self._logged_skips: frozenset[SkippedFile] = frozenset()
        self.qa = QAIndex()
        # sentence vectors (when the embeddings extra is installed) are kept beside the database
        embed.VECTOR_CACHE.folder = config.database.parent / "vectors"
        self.exit_code = 0
        self._warm_wanted = threading.Event()  # set when articles change: prepare them for Q&A
        self._stop: asyncio.Event | None = None
        try:
            self.store = open_store(config, on_lost=self._storage_lost)
            self.run_state = RunState(config.database)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"database: cannot open {config.database} ({exc}); point it at a file in a "
                "folder the bot may write to"
            ) from None
        self.delivery: Delivery | None = None
        self.subscriptions = SubscriptionService(
            self.store, config.timezone, on_change=self._subscriptions_changed,
            catch_up=config.catch_up_window,
        )
        self.reader: Reader | None = None
        if config.reader is not None:
            from briefbot.qa.reader import Reader

            self.reader = Reader(config.reader)
            log.info("qa.reader: answers may come from %s (checked against the article)",
                     config.reader.model)
        self.conversation = Conversation(
            self.library, self.qa, memory=self.store, subscriptions=self.subscriptions,
            reader=self.reader,
        )
        self.adapters: dict[str, AnyAdapter] = {}
        self.budget = Budget()

    def load_content(self) -> ReloadReport:
        """Rescan the content folder; log each problem, and each file it does not serve (with
        why, as `check` names it), once, when it first appears."""
        report = self.library.reload()
        # The folder is rescanned every few seconds: a problem (or skip) that stays is not news.
        self._logged_problems = _warn_new(report.problems, self._logged_problems)
        self._logged_skips = _warn_new(self.library.skipped, self._logged_skips)
        if report.changed_anything:
            log.info(
                "content: %s (added %s, changed %s, removed %s)",
                _count(len(self.library.articles), "article"), list(report.added) or "none",
                list(report.changed) or "none", list(report.removed) or "none",
            )
            self.conversation.sync()
            self._warm_wanted.set()
            if self.delivery is not None:
                self.delivery.wake()
        return report

    def _warm(self, stop: threading.Event) -> None:
        """Background thread while serving: prepare the newest articles' Q&A after each change."""
        while not stop.is_set():
            if not self._warm_wanted.wait(timeout=1.0):
                continue
            self._warm_wanted.clear()
            try:
                prepared = self.qa.warm(stop=stop)
                log.debug("qa: prepared %s", _count(prepared, "article"))
            except Exception:  # answers still prepare themselves; never let this end quietly
                log.exception("qa: preparing articles in the background failed")

    async def handle(self, incoming: Incoming) -> Sequence[Reply]:
        """Every message from every platform comes through here: the budget, then the answer."""
        if incoming.platform != "console":  # the person at the terminal is the operator
            chat = f"{incoming.platform}:{incoming.chat_id}"
            user = f"{incoming.platform}:{incoming.user_id}"
            now = time.monotonic()
            verdict = self.budget.admit(chat, user, now)
            if verdict == "ignore":
                return []
            if verdict == "slow_down":
                wait = self.budget.retry_in(chat, user, now)
                log.info("%s chat %s: over its message budget; asked to slow down",
                         incoming.platform, incoming.chat_id)
                return [Notice(f"You're sending messages faster than I can answer. "
                               f"I'll read new ones again in about {wait} s.")]
        return await self.conversation.handle(incoming)

    def _storage_lost(self, error: StorageError) -> None:
        """The database file went away under us: stop (exit 2) rather than write into a ghost."""
        self.exit_code = 2
        if self._stop is not None:
            self._stop.set()

    def _platform_failed(self, error: ConfigError) -> None:
        """A platform refused the bot while it ran (a revoked token; the adapter logged it):
        stop, and exit 2 as a rejected token at start does."""
        self.exit_code = 2
        if self._stop is not None:
            self._stop.set()

    def _subscriptions_changed(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    def platform_adapters(self, *, receive: bool) -> dict[str, AnyAdapter]:
        """An adapter for every platform with a token (its SDK imported only then)."""
        return {
            settings.platform: settings.adapter(
                self.handle, self.subscriptions, receive=receive, on_fatal=self._platform_failed,
                database=self.config.database)
            for settings in self.config.platforms if settings.token is not None
        }

    async def serve(
        self, adapters: dict[str, AnyAdapter], stop: asyncio.Event, *, fetch_feeds: bool = False
    ) -> None:
        """Start the adapters, the scheduler, the content watcher and (with `fetch_feeds`) the
        feed loop; run until `stop`."""
        self.adapters = adapters
        self._stop = stop
        warm_stop = threading.Event()
        self._warm_wanted.set()
        warmer = threading.Thread(target=self._warm, args=(warm_stop,), name="qa-warm",
                                  daemon=True)
        warmer.start()
        sync_config_subscriptions(self.store, self.config, dt.datetime.now(dt.UTC))
        self.delivery = RecordingDelivery(
            self.store, self.library, adapters, catch_up=self.config.catch_up_window,
            run_state=self.run_state,
        )
        started: list[AnyAdapter] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            if fetch_feeds and self.config.feeds:
                # Before the platforms: feeds need none of them, and one that is unreachable
                # at boot (retried below) must not hold up fetching.
                feeds = FeedLoop(self.config, self.run_state, self.load_content)
                tasks.append(asyncio.create_task(feeds.run(stop), name="feeds"))
            # Concurrently, so a platform that is down at boot does not hold up the others.
            try:
                async with asyncio.TaskGroup() as group:
                    for adapter in adapters.values():
                        group.create_task(self._start(adapter, stop, started))
            except* Exception as errors:
                # One platform's start error (a rejected token, a port in use), said plainly
                # rather than wrapped in an exception group.
                raise errors.exceptions[0] from None
            tasks.append(self.delivery.start(stop))
            tasks.append(asyncio.create_task(self._watch_content(stop), name="content-watch"))
            await stop.wait()
        finally:
            stop.set()
            warm_stop.set()
            # At the same time, one grace for both: the warm-up thread is joined, not left to
            # die with the process (onnxruntime aborts the interpreter when a thread is still
            # inside it at exit; one article takes well under a second), and a delivery pass
            # that is sending finishes its message rather than being cut between send and
            # ledger write (which would send it again on the next start).
            joined = asyncio.to_thread(warmer.join, STOP_GRACE_SECONDS)
            if tasks:
                await asyncio.gather(joined, asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS))
            else:
                await joined
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("%s: error while stopping", adapter.platform)
            if self.reader is not None:
                await self.reader.aclose()
            self.store.close()
            self.run_state.close()

    async def _start(
        self, adapter: AnyAdapter, stop: asyncio.Event, started: list[AnyAdapter]
    ) -> None:
        """Start one adapter, retrying with backoff while its platform cannot be reached.

        A server often boots before its network is up; exiting would only have the service
        manager restart the bot in a tight loop. Configuration errors (a rejected token) are
        not retried: they need a person.
        """
        delay = START_RETRY_FIRST_SECONDS
        while not stop.is_set():
            try:
                if not await _unless_stopped(adapter.start(), stop):
                    return  # stopped while the platform was slow to answer: not started
            except TemporaryFailure as exc:
                log.warning("%s: %s; trying again in %.0f s", adapter.platform, exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, START_RETRY_MAX_SECONDS)
                continue
            started.append(adapter)
            log.info("%s: running", adapter.platform)
            return

    async def _watch_content(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.reload_seconds)
            if stop.is_set():
                return
            try:
                self.load_content()
            except Exception:  # one bad rescan must never stop the bot
                log.exception("content: rescan of %s failed", self.config.content_dir)


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` until it ends or `stop` is set (then it is cancelled); -> whether it ended.

    A platform that accepts the connection and then does not answer would otherwise hold a
    stop for its whole request timeout (a minute), past what a service manager waits."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # its error, if any
    return True


_Said = TypeVar("_Said", ContentProblem, SkippedFile)


def _warn_new(items: Sequence[_Said], logged: frozenset[_Said]) -> frozenset[_Said]:
    """Log a WARNING for each of `items` (content problems, skipped files: names and why,
    never a file's text) not in `logged`, the last scan's; -> this scan's, for the next."""
    for item in items:
        if item not in logged:
            log.warning("content: %s", item)
    return frozenset(items)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def chat(config: Config, *, fetch_feeds: bool = False) -> int:
    """The console chat: the same conversation as the platforms, in this terminal (and, for
    `run` without a token, the feeds fetched on their intervals)."""
    app = App(config)
    app.load_content()
    console = ConsoleAdapter(app.handle)
    if sys.stdin.isatty():
        print(
            f"briefbot console chat: {_count(len(app.library.articles), 'article')} from "
            f"{config.content_dir}. Try /latest, /help, or ask a question. Ctrl+D quits.",
            file=sys.stderr,
        )
    stop = asyncio.Event()
    _stop_on_signals(stop)
    serving = asyncio.create_task(app.serve({"console": console}, stop, fetch_feeds=fetch_feeds))
    finished = asyncio.create_task(console.finished.wait())
    await asyncio.wait([serving, finished], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await serving
    return app.exit_code  # 2 when the database went away under the chat


async def run(config: Config) -> int:
    """Serve every platform that has a token; with none, fall back to the console chat."""
    app = App(config)
    adapters = app.platform_adapters(receive=True)
    if not adapters:
        print(
            f"briefbot: no {' or '.join(p.token_env for p in PLATFORMS)} is set, so this is the "
            f"console chat. Set a token to serve {' or '.join(p.title for p in PLATFORMS)}.",
            file=sys.stderr,
        )
        app.store.close()
        app.run_state.close()
        return await chat(config, fetch_feeds=True)  # which loads (and logs) the content
    app.load_content()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    log.info("briefbot: serving %s; stop with Ctrl+C or SIGTERM", ", ".join(adapters))
    await app.serve(adapters, stop, fetch_feeds=True)
    log.info("briefbot: stopped")
    if app.store.lost is not None:
        print(f"briefbot: {app.store.lost}", file=sys.stderr)
    return app.exit_code


async def send_due(config: Config, at: dt.datetime) -> int:
    """One delivery pass at `at`, then exit (for cron or a Kubernetes CronJob).

    Returns 0 when everything due went out, EXIT_RETRY when a platform could not be reached
    or some chats failed for now: they stay due, and the next run sends them.
    """
    app = App(config)
    app.load_content()
    sync_config_subscriptions(app.store, config, at)
    # SIGTERM/SIGINT: the messages in flight finish, no new one starts, every claim is released.
    stop = asyncio.Event()
    _stop_on_signals(stop)
    started: dict[str, AnyAdapter] = {}
    unreachable = False
    try:
        for platform, adapter in app.platform_adapters(receive=False).items():
            try:
                await adapter.start()
            except TemporaryFailure as exc:
                log.warning("%s: %s; its briefings stay due for the next run", platform, exc)
                unreachable = True
                continue
            started[platform] = adapter
        report = await deliver_due(app.store, app.library, started, at, config.catch_up_window,
                                   stop=stop)
        record_pass(app.run_state, at, "send-due", report)
    finally:
        for adapter in reversed(started.values()):
            await adapter.stop()
        app.store.close()
        app.run_state.close()
    print(report)
    if app.store.lost is not None:
        print(f"briefbot: {app.store.lost}", file=sys.stderr)
        return 2
    if report.resume_at is not None:
        print(f"briefbot: {_count(report.deferred, 'briefing')} rate-limited by the platform; "
              f"run send-due again after {report.resume_at.isoformat(timespec='seconds')}",
              file=sys.stderr)
    left_due = report.failed or report.deferred or report.unrecorded or report.interrupted
    return EXIT_RETRY if unreachable or left_due else 0
