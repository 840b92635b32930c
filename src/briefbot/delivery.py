"""The one scheduler for every platform: sends each due daily briefing once, send-then-commit."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from briefbot.adapters.base import STOP_GRACE_SECONDS, Adapter
from briefbot.articles import Article
from briefbot.briefing import make_briefing, make_digest
from briefbot.conversation import Reply
from briefbot.errors import (
    ChatMoved,
    ChatUnavailable,
    OutcomeUnknown,
    RateLimited,
    TemporaryFailure,
)
from briefbot.schedule import Due, Missed, decide, next_due, owed_from
from briefbot.store import BriefingProgress, SentArticle, Store, Subscription

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], Awaitable[None]]

# A subscriber back from a long silence gets the newest ten headlines, not a wall of them.
MAX_DIGEST_ARTICLES = 10
# What a chat was not sent is new to it if dated at most this long before its last briefing:
# a report dated 4 March but written (or fetched) after the 5 March briefing still goes out;
# an archive article dropped into content/ months later does not. The store keeps what each
# chat was sent for at least this long plus a day (store.SENT_KEPT_FOR).
NEW_WITHIN = dt.timedelta(days=7)


class ArticleSource(Protocol):
    """The part of the Library delivery reads: articles newest first, and lookup by id."""

    @property
    def articles(self) -> Sequence[Article]: ...

    def find(self, article_id: str) -> Article | None: ...


def _new_since(sub: Subscription) -> dt.date | None:
    """The oldest article date still news to this chat (see `Delivery.new_articles`)."""
    if sub.last_sent_at is not None:
        last = sub.last_sent_at.astimezone(ZoneInfo(sub.timezone)).date()
    elif sub.last_article_date is not None:
        last = sub.last_article_date
    else:
        return None
    joined = sub.created_at.astimezone(ZoneInfo(sub.timezone)).date()
    return max(last - NEW_WITHIN, joined)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def clock_from(at: dt.datetime) -> Clock:
    """A clock that reads `at` now and runs on in real time: a pass "at" a given time (send-due
    --at) claims, records and defers by its own time line, as one at the real time does."""
    started = time.monotonic()
    return lambda: at + dt.timedelta(seconds=time.monotonic() - started)


def compose_briefing(articles: Sequence[Article]) -> Reply:
    """One new article -> its full briefing; several -> a digest, newest first."""
    if len(articles) == 1:
        return make_briefing(articles[0])
    return make_digest(list(articles))


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one delivery pass did, in briefings (chat-days) unless it says messages."""

    due: int = 0  # briefings that were due at this pass
    delivered: int = 0  # briefings now completely sent
    sent: int = 0  # messages the platforms accepted in this pass
    nothing_new: int = 0  # due, but no article newer than the chat's last one: nothing sent
    skipped: int = 0  # missed by more than the catch-up window: not sent, logged
    failed: int = 0  # left due for the next pass (temporary failures, unexpected errors)
    paused: int = 0  # the chat refused the bot (blocked, kicked): subscription paused
    moved: int = 0  # the chat has a new id: subscription moved there
    duplicates_avoided: int = 0  # parts another sender had claimed or already sent
    interrupted: int = 0  # left due (whole or in part) because the bot is stopping
    deferred: int = 0  # left due: the platform asked to wait longer than a send may wait
    unrecorded: int = 0  # sent, but the ledger write failed: held in memory, never resent
    resume_at: dt.datetime | None = None  # earliest time a deferred briefing may be tried

    def __str__(self) -> str:
        fields = (f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                  if f.name != "resume_at")
        resume = "" if self.resume_at is None else (
            f" resume_at={self.resume_at.isoformat(timespec='seconds')}")
        return " ".join(fields) + resume


class _Tally:
    def __init__(self) -> None:
        self.counts = dict.fromkeys((f.name for f in dataclasses.fields(PassReport)
                                     if f.name != "resume_at"), 0)
        self.resume_at: dt.datetime | None = None

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def resume(self, at: dt.datetime) -> None:
        self.resume_at = at if self.resume_at is None else min(self.resume_at, at)

    def report(self) -> PassReport:
        return PassReport(**self.counts, resume_at=self.resume_at)


class _Superseded(Exception):
    """The chat moved onto a chat that already has its own subscription: stop this one."""


class _ClaimLost(Exception):
    """Our lease lapsed during retries and another sender took the part: it sends it, not us."""


# Longer than the worst case of one send (an adapter waits out a few 30 s flood waits inside
# it), renewed every third of itself while a send is in flight and before each of delivery's own
# retries; a crashed sender's parts wait this long.
DEFAULT_LEASE = dt.timedelta(minutes=15)
# The longest "retry after" waited out in the process. A longer one leaves the chat due with a
# not-before time: a send must never hold its claim, or a worker, for an hour.
MAX_WAIT = dt.timedelta(seconds=30)

# (subscription id, local date) -> part index -> (the briefing's article ids, when it was sent)
_Unrecorded = dict[tuple[int, dt.date], dict[int, tuple[tuple[str, ...], dt.datetime]]]


class Delivery:
    """Decides what is due, sends it through the platform adapters, and keeps the ledger."""

    def __init__(
        self,
        store: Store,
        library: ArticleSource,
        adapters: Mapping[str, Adapter],
        *,
        catch_up: dt.timedelta = dt.timedelta(hours=2),
        clock: Clock = utc_now,
        concurrency: int = 16,
        retry_delays: Sequence[float] = (1.0, 5.0, 15.0),
        lease: dt.timedelta = DEFAULT_LEASE,
        retry_interval: dt.timedelta = dt.timedelta(minutes=1),
        max_sleep: dt.timedelta = dt.timedelta(minutes=10),
        compose: Callable[[Sequence[Article]], Reply] = compose_briefing,
        sleep: Sleep = asyncio.sleep,
        max_wait: dt.timedelta = MAX_WAIT,
        renew_every: float | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self._store = store
        self._library = library
        self._adapters = adapters
        self._catch_up = catch_up
        self._clock = clock
        self._concurrency = max(1, concurrency)
        self._retry_delays = tuple(retry_delays)
        self._lease = lease
        self._retry_interval = retry_interval
        self._max_sleep = max_sleep
        self._compose = compose
        self._sleep = sleep
        self._max_wait = max_wait
        # Real seconds a send may still take once stopping: past it (a rate-limit wait inside
        # the adapter), it is cut off and its part left due, claim released.
        self._stop_grace = stop_grace
        # Real seconds between lease renewals while a send is in flight.
        self._renew_every = (
            renew_every if renew_every is not None else lease.total_seconds() / 3
        )
        self._claimant = uuid.uuid4().hex
        # Parts the platform accepted whose ledger write failed: never sent again by this
        # process, and written to the ledger as soon as storage works again.
        self._unrecorded: _Unrecorded = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # (platform, ((article id, content hash), ...)) -> rendered parts, for one pass.
        self._parts: dict[tuple[str, tuple[tuple[str, str], ...]], Sequence[object]] = {}

    # Deciding

    def due_at(self, now: dt.datetime) -> tuple[list[tuple[Subscription, Due]], list[
            tuple[Subscription, Missed]]]:
        """Every active subscription with an adapter that is owed (or has missed) a briefing."""
        due: list[tuple[Subscription, Due]] = []
        missed: list[tuple[Subscription, Missed]] = []
        for sub in self._store.subscriptions():
            if sub.platform not in self._adapters:
                continue
            decision = decide(
                sub.time, sub.timezone, now, last_local_date=sub.last_local_date,
                created_at=owed_from(sub.owed_from, from_config=sub.source == "config",
                                     catch_up=self._catch_up),
                catch_up=self._catch_up,
            )
            if isinstance(decision, Due):
                due.append((sub, decision))
            elif isinstance(decision, Missed):
                missed.append((sub, decision))
        return due, missed

    def next_wake(self, now: dt.datetime, *, retry: bool = False) -> dt.datetime:
        """When the loop should look again: the next briefing time, sooner after a failure."""
        wake = now + self._max_sleep
        if retry or self._unrecorded:
            wake = min(wake, now + self._retry_interval)
        for not_before in self._store.deferrals().values():
            if not_before > now:
                wake = min(wake, not_before)
        # Many subscriptions share a time and zone: work each pair out once.
        pairs = {(s.time, s.timezone) for s in self._store.subscriptions()
                 if s.platform in self._adapters}
        for at, zone in pairs:
            wake = min(wake, next_due(at, zone, now))
        return wake

    # Sending

    async def run_pass(self, now: dt.datetime, stop: asyncio.Event | None = None) -> PassReport:
        """Send everything due at `now` (each chat at most once a local day), then return.

        Once `stop` is set no new message starts: sends in flight finish and are recorded, and
        whatever is left stays due, so a shutdown's grace period only has to cover one send.
        """
        stopping = stop if stop is not None else asyncio.Event()
        tally = _Tally()
        self.record_unrecorded()
        due, missed = self.due_at(now)
        for sub, miss in missed:
            log.warning(
                "%s chat %s: skipped the %s briefing due %s, missed by %s (catch-up window %s)",
                sub.platform, sub.chat_id, miss.local_date, miss.scheduled.isoformat(),
                miss.late_by, self._catch_up,
            )
            self._close_missed(sub, miss)
            tally.add("skipped")
        tally.add("due", len(due))
        held = self._store.deferrals() if due else {}
        if held:
            waiting = [(sub, when) for sub, when in due if held.get(sub.id, now) > now]
            for sub, _ in waiting:
                tally.add("deferred")
                tally.resume(held[sub.id])
            due = [(sub, when) for sub, when in due if held.get(sub.id, now) <= now]
        if not due:
            return tally.report()
        articles = tuple(self._library.articles)
        # Most chats get the same briefing: compose and render each one once a pass.
        self._parts = {}
        queue: asyncio.Queue[tuple[Subscription, Due]] = asyncio.Queue()
        for item in due:
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty() and not stopping.is_set():
                sub, when = queue.get_nowait()
                await self._deliver_guarded(sub, when, articles, tally, stopping)

        # A TaskGroup, so a crash in one worker cancels the rest instead of orphaning them.
        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(due))):
                group.create_task(worker())
        tally.add("interrupted", queue.qsize())  # never started: still due next time
        return tally.report()

    async def _deliver_guarded(
        self,
        sub: Subscription,
        when: Due,
        articles: Sequence[Article],
        tally: _Tally,
        stop: asyncio.Event,
    ) -> None:
        try:
            await self._deliver(sub, when, articles, tally, stop)
        except Exception:
            # One chat's fault must not stop the others; it stays due for the next pass.
            log.exception("%s chat %s: the %s briefing failed; will retry on the next pass",
                          sub.platform, sub.chat_id, when.local_date)
            tally.add("failed")

    def _close_missed(self, sub: Subscription, miss: Missed) -> None:
        progress = self._store.progress(sub.id, miss.local_date)
        if progress.article_ids is None:
            self._store.finish_briefing(sub.id, miss.local_date, newest_article_id=None,
                                        newest_article_date=None, sent_at=None)
            return
        # Part of it reached the chat: its articles count as sent, or tomorrow repeats them.
        found = [self._library.find(i) for i in progress.article_ids]
        newest = found[0]
        self._finish(sub, miss.local_date, progress.article_ids[0],
                     None if newest is None else newest.date, sub.chat_id,
                     [(i, None if a is None else a.date) for i, a in zip(
                         progress.article_ids, found, strict=True)],
                     sent_at=progress.last_sent_at)

    def new_articles(
        self, sub: Subscription, articles: Sequence[Article], sent: frozenset[str]
    ) -> list[Article]:
        """The articles this subscription has not been sent, newest first (capped); a new
        subscription starts with the newest article only.

        Membership, not position or date: a same-date article added later, or one dated a few
        days back, is new as long as the chat was not sent it. Old news is not: an article
        dated more than NEW_WITHIN before the chat's last briefing, or before the chat
        subscribed. Undated articles are never sent after the first briefing (`briefbot check`
        says so).
        """
        if not articles:
            return []
        if sub.last_article_id is None and not sent:
            return [articles[0]]
        since = _new_since(sub)
        fresh = [a for a in articles if a.id not in sent and a.date is not None
                 and (since is None or a.date >= since)]
        return fresh[:MAX_DIGEST_ARTICLES]

    async def _deliver(
        self,
        sub: Subscription,
        when: Due,
        articles: Sequence[Article],
        tally: _Tally,
        stop: asyncio.Event,
    ) -> None:
        store = self._store
        progress = self._progress(sub.id, when.local_date)
        if progress.article_ids is not None:
            # Some parts already went out: finish exactly that briefing, whatever is new since.
            chosen = [a for i in progress.article_ids if (a := self._library.find(i)) is not None]
            if len(chosen) != len(progress.article_ids):
                log.warning("%s chat %s: an article of the %s briefing was removed mid-way; "
                            "closing it as sent", sub.platform, sub.chat_id, when.local_date)
                self._finish(sub, when.local_date, progress.article_ids[0], None, sub.chat_id,
                             [(i, a.date if (a := self._library.find(i)) else None)
                              for i in progress.article_ids])
                return
        else:
            chosen = self.new_articles(sub, articles, store.sent_article_ids(sub.id))
        if not chosen:
            store.finish_briefing(sub.id, when.local_date, newest_article_id=None,
                                  newest_article_date=None, sent_at=None)
            tally.add("nothing_new")
            return
        ids = tuple(a.id for a in chosen)
        adapter = self._adapters[sub.platform]
        parts = self._parts_of(adapter, chosen)
        chat_id = sub.chat_id
        for index, part in enumerate(parts):
            if index in progress.delivered_parts:
                continue
            if stop.is_set():
                # Stopping between parts: the rest of this briefing goes out on the next start.
                tally.add("interrupted")
                return
            claim = store.claim_part(sub.id, when.local_date, index, ids,
                                     claimant=self._claimant, now=self._clock(), lease=self._lease)
            if claim == "delivered":
                continue
            if claim != "claimed":
                # Another sender holds or has pinned this briefing; it will finish it in order.
                tally.add("duplicates_avoided")
                return
            def renew(index: int = index) -> bool:
                return store.renew_claim(sub.id, when.local_date, index, claimant=self._claimant,
                                         now=self._clock(), lease=self._lease)

            try:
                chat_id = await self._send(adapter, sub, chat_id, part, tally, stop, renew)
            except RateLimited as exc:
                if dt.timedelta(seconds=exc.retry_after) <= self._max_wait:
                    store.release_part(sub.id, when.local_date, index, claimant=self._claimant)
                    log.warning("%s chat %s: part %d of the %s briefing failed for now (%s); "
                                "it stays due", sub.platform, chat_id, index, when.local_date,
                                exc)
                    tally.add("interrupted" if stop.is_set() else "failed")
                    return
                self._defer(sub, when, index, chat_id, exc, tally)
                return
            except TemporaryFailure as exc:
                store.release_part(sub.id, when.local_date, index, claimant=self._claimant)
                log.warning("%s chat %s: part %d of the %s briefing failed for now (%s); "
                            "it stays due", sub.platform, chat_id, index, when.local_date, exc)
                tally.add("interrupted" if stop.is_set() else "failed")
                return
            except ChatUnavailable as exc:
                store.release_part(sub.id, when.local_date, index, claimant=self._claimant)
                store.pause(sub.platform, chat_id, exc.reason)
                log.warning("%s chat %s: paused the daily briefing: %s",
                            sub.platform, chat_id, exc.reason)
                tally.add("paused")
                return
            except _Superseded:
                return
            except _ClaimLost:
                log.warning("%s chat %s: another sender took over part %d of the %s briefing "
                            "while this one waited to retry; leaving it to them",
                            sub.platform, chat_id, index, when.local_date)
                tally.add("duplicates_avoided")
                return
            except (Exception, asyncio.CancelledError):
                store.release_part(sub.id, when.local_date, index, claimant=self._claimant)
                raise
            # Only now, after the platform accepted the message, does the ledger say "sent".
            tally.add("sent")
            if not self._record(sub, when.local_date, index, ids, chat_id):
                # Sent but not in the ledger: the rest waits until storage works again.
                tally.add("unrecorded")
                tally.add("failed")
                return
        self._finish(sub, when.local_date, ids[0], chosen[0].date, chat_id,
                     [(a.id, a.date) for a in chosen])
        tally.add("delivered")

    def _parts_of(self, adapter: Adapter, chosen: Sequence[Article]) -> Sequence[object]:
        """The rendered parts of the briefing of `chosen`, made once a pass per platform.

        Keyed by each article's content hash too, so an article edited mid-pass is not mixed up.
        """
        key = (adapter.platform, tuple((a.id, a.digest) for a in chosen))
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = tuple(adapter.render(self._compose(chosen)))
        return parts

    def _finish(self, sub: Subscription, day: dt.date, newest_id: str,
                newest_date: dt.date | None, chat_id: str, sent: Sequence[SentArticle],
                *, sent_at: dt.datetime | None = None) -> None:
        self._store.finish_briefing(sub.id, day, newest_article_id=newest_id,
                                    newest_article_date=newest_date,
                                    sent_at=sent_at or self._clock(), sent_articles=sent)
        # Follow-up questions in this chat now go to the article it was just briefed on.
        self._store.remember_briefed(sub.platform, chat_id, newest_id)

    async def _send(
        self,
        adapter: Adapter,
        sub: Subscription,
        chat_id: str,
        part: object,
        tally: _Tally,
        stop: asyncio.Event,
        renew: Callable[[], bool],
    ) -> str:
        """Send one part, retrying temporary failures and following a moved chat; -> chat id."""
        failures = 0
        moves = 0
        while True:
            try:
                await self._send_holding(adapter, chat_id, part, renew, stop, sub.thread_id)
                return chat_id
            except TemporaryFailure as exc:
                if failures >= len(self._retry_delays) or stop.is_set():
                    raise
                if isinstance(exc, OutcomeUnknown):
                    raise  # it may have arrived: another try now could only add a copy
                delay = self._retry_delays[failures]
                if isinstance(exc, RateLimited):
                    if dt.timedelta(seconds=exc.retry_after) > self._max_wait:
                        raise
                    delay = max(delay, exc.retry_after)
                failures += 1
                log.info("%s chat %s: %s; retrying in %.1f s (%d of %d)", sub.platform, chat_id,
                         exc, delay, failures, len(self._retry_delays))
                if await self._sleep_unless_stopped(delay, stop):
                    raise
                if not renew():
                    raise _ClaimLost from exc
            except ChatMoved as exc:
                moves += 1
                if moves > 2:
                    raise TemporaryFailure(f"chat {chat_id} keeps moving") from exc
                self._store.move_chat(sub.platform, chat_id, exc.new_chat_id)
                tally.add("moved")
                if sub.source == "config":
                    # Said once, here: later starts map the old id to the new one by themselves.
                    log.warning("%s chat %s, listed in config.yaml, moved to %s (a group that "
                                "became a supergroup); its daily briefing follows it. Replace "
                                "%s with %s in config.yaml", sub.platform, chat_id,
                                exc.new_chat_id, chat_id, exc.new_chat_id)
                else:
                    log.info("%s chat %s moved to %s; subscription follows it",
                             sub.platform, chat_id, exc.new_chat_id)
                current = self._store.subscription(sub.platform, exc.new_chat_id)
                if current is None or current.id != sub.id:
                    raise _Superseded from exc
                chat_id = exc.new_chat_id

    async def _send_holding(
        self, adapter: Adapter, chat_id: str, part: object, renew: Callable[[], bool],
        stop: asyncio.Event, thread_id: str | None = None,
    ) -> None:
        """`adapter.send_part`, renewing the claim while it runs (it may wait out rate limits).

        If the claim turns out to be someone else's (our lease lapsed and another sender took
        it), the send is cancelled before it goes out and `_ClaimLost` is raised.
        """
        # The send runs in this task (so a crash or a stop cuts it exactly where it is); the
        # renewals run beside it and cancel it if the claim is gone.
        task = asyncio.current_task()
        assert task is not None
        lost = cut = False

        async def cut_when_stopping() -> None:
            nonlocal cut
            await stop.wait()
            await asyncio.sleep(self._stop_grace)
            cut = True
            task.cancel()

        async def keep() -> None:
            nonlocal lost
            while True:
                await asyncio.sleep(self._renew_every)
                try:
                    held = renew()
                except Exception:
                    # Storage trouble: the lease still runs; let the send go on.
                    log.exception("chat %s: could not renew the claim on a send in flight",
                                  chat_id)
                    continue
                if not held:
                    lost = True
                    task.cancel()
                    return

        helpers = (asyncio.create_task(keep()), asyncio.create_task(cut_when_stopping()))
        try:
            await adapter.send_part(chat_id, part, thread_id=thread_id)
        except asyncio.CancelledError:
            if lost and task.uncancel() == 0:
                raise _ClaimLost from None
            if cut and task.uncancel() == 0:
                raise TemporaryFailure(
                    f"still waiting {self._stop_grace:.0f} s after the stop signal"
                ) from None
            raise
        finally:
            for helper in helpers:
                helper.cancel()

    # The ledger, and what it could not hold

    def _progress(self, subscription_id: int, day: dt.date) -> BriefingProgress:
        """The ledger's progress, plus the parts this process sent but could not record."""
        key = (subscription_id, day)
        if key in self._unrecorded:
            self._flush(key)
        progress = self._store.progress(subscription_id, day)
        remembered = self._unrecorded.get(key)
        if not remembered:
            return progress
        ids = progress.article_ids or next(iter(remembered.values()))[0]
        return BriefingProgress(ids, progress.delivered_parts | frozenset(remembered),
                                progress.last_sent_at)

    def _record(self, sub: Subscription, day: dt.date, index: int, ids: tuple[str, ...],
                chat_id: str) -> bool:
        """Write an accepted part to the ledger; False (and kept in memory) if that failed."""
        sent_at = self._clock()
        try:
            self._store.record_part(sub.id, day, index, ids, claimant=self._claimant,
                                    sent_at=sent_at)
        except Exception as exc:
            self._unrecorded.setdefault((sub.id, day), {})[index] = (ids, sent_at)
            log.error("%s chat %s: part %d of the %s briefing was sent, but the ledger could not "
                      "be written (%s); this process will not send it again and records it once "
                      "storage works again", sub.platform, chat_id, index, day, exc)
            return False
        return True

    def _flush(self, key: tuple[int, dt.date]) -> None:
        parts = self._unrecorded.get(key, {})
        for index, (ids, sent_at) in sorted(parts.items()):
            try:
                self._store.record_part(key[0], key[1], index, ids, claimant=self._claimant,
                                        sent_at=sent_at)
            except Exception:
                return
            del parts[index]
            log.info("subscription %d: part %d of the %s briefing, sent earlier, is now in the "
                     "ledger", key[0], index, key[1])
        if not parts:
            self._unrecorded.pop(key, None)

    def record_unrecorded(self) -> int:
        """Write the sent-but-unrecorded parts to the ledger if storage allows; -> how many remain.

        They stay in memory only: a process that exits with some left has logged each of them.
        """
        for key in list(self._unrecorded):
            self._flush(key)
        return sum(len(parts) for parts in self._unrecorded.values())

    def _defer(self, sub: Subscription, when: Due, index: int, chat_id: str,
               exc: RateLimited, tally: _Tally) -> None:
        """The platform asked for a long wait: leave the briefing due until then, unclaimed."""
        until = self._clock() + dt.timedelta(seconds=exc.retry_after)
        self._store.release_part(sub.id, when.local_date, index, claimant=self._claimant)
        self._store.defer(sub.id, until, str(exc))
        log.warning("%s chat %s: %s; the %s briefing (part %d on) stays due and is tried again "
                    "at %s", sub.platform, chat_id, exc, when.local_date, index,
                    until.isoformat(timespec="seconds"))
        tally.add("deferred")
        tally.resume(until)

    async def _sleep_unless_stopped(self, seconds: float, stop: asyncio.Event) -> bool:
        """Sleep `seconds` (through the injected sleep); True if `stop` was set meanwhile."""
        napping = asyncio.ensure_future(self._sleep(seconds))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((napping, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (napping, stopped):
                waiter.cancel()
            await asyncio.gather(napping, stopped, return_exceptions=True)
        return stop.is_set()

    # The loop

    def wake(self) -> None:
        """Look again now: a subscription changed or new content arrived."""
        self._wake.set()

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Pass, sleep until the next briefing is due (or `wake()`), repeat until stopped."""
        while not stop_event.is_set():
            self._wake.clear()
            now = self._clock()
            failed = True
            try:
                report = await self.run_pass(now, stop_event)
                failed = report.failed > 0
                if report.due or report.skipped:
                    log.info("delivery pass at %s: %s", now.isoformat(timespec="seconds"), report)
            except Exception:
                log.exception("delivery pass at %s failed; trying again shortly", now.isoformat())
            try:
                wake_at = self.next_wake(now, retry=failed)
            except Exception:
                log.exception("could not work out the next briefing time")
                wake_at = now + self._retry_interval
            # Floor of a second so a clock that runs slightly behind cannot spin the loop.
            seconds = max((wake_at - self._clock()).total_seconds(), 1.0)
            await self._wait(stop_event, seconds)

    async def _wait(self, stop_event: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(stop_event.wait()),
                   asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def start(self, stop_event: asyncio.Event) -> asyncio.Task[None]:
        """Run the loop as a kept, watched background task (the app awaits it on shutdown)."""
        self._task = asyncio.create_task(self.run_forever(stop_event), name="briefbot-delivery")
        self._task.add_done_callback(_log_unexpected_end)
        return self._task


def _log_unexpected_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("the delivery loop stopped: %r", error, exc_info=error)


async def send_due(
    store: Store,
    library: ArticleSource,
    adapters: Mapping[str, Adapter],
    at: dt.datetime,
    catch_up: dt.timedelta,
    *,
    stop: asyncio.Event | None = None,
    record_tries: Sequence[float] = (0.5, 2.0, 5.0),
) -> PassReport:
    """`briefbot send-due`: deliver what is due at `at` once, then return what happened.

    Parts sent but not yet in the ledger (storage failed after the platform accepted them) are
    written before returning if storage recovers within `record_tries` (seconds between tries);
    any left are logged one by one, since they live only in this process's memory.
    """
    delivery = Delivery(store, library, adapters, catch_up=catch_up, clock=clock_from(at))
    report = await delivery.run_pass(at, stop)
    for pause in record_tries:
        if not delivery.record_unrecorded():
            break
        await asyncio.sleep(pause)
    for (sub_id, day), parts in delivery._unrecorded.items():
        for index in sorted(parts):
            log.error("subscription %d: part %d of the %s briefing was sent but is not in the "
                      "ledger (storage still failing); a later run may send it again once its "
                      "claim lapses", sub_id, index, day)
    log.info("send-due at %s: %s", at.isoformat(timespec="seconds"), report)
    return report
