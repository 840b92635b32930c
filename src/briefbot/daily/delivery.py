"""The one scheduler for every platform: sends each due daily briefing once, send-then-commit."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from briefbot.articles import Article
from briefbot.briefing import make_briefing, make_digest
from briefbot.daily.jobs import (
    OUTCOMES,
    BriefingJob,
    ClaimLost,
    LedgerWrite,
    Outcome,
    Superseded,
    outcome_of,
)
from briefbot.daily.schedule import Due, Missed, decide_for, next_due, zone_known
from briefbot.errors import (
    ChatMoved,
    ChatUnavailable,
    OutcomeUnknown,
    RateLimited,
    TemporaryFailure,
)
from briefbot.messages import Reply
from briefbot.ports import STOP_GRACE_SECONDS, Clock, Sleep, utc_now
from briefbot.ports import AnyAdapter as Adapter  # an adapter of any platform
from briefbot.store import Ledger, Subscription, SubscriptionStore
from briefbot.store.records import BriefingProgress, Finish

log = logging.getLogger(__name__)

# A subscriber back from a long silence gets the newest ten headlines, not a wall of them.
MAX_DIGEST_ARTICLES = 10
# What a chat was not sent is new to it if dated at most this long before its last briefing:
# a report dated 4 March but written (or fetched) after the 5 March briefing still goes out;
# an archive article dropped into content/ months later does not. The store keeps what each
# chat was sent for at least this long plus a day (store.SENT_KEPT_FOR).
NEW_WITHIN = dt.timedelta(days=7)


class DeliveryStore(SubscriptionStore, Ledger, Protocol):
    """What delivery reads and writes: the subscriptions and the ledger (which also remembers,
    as a day closes, which article each chat was briefed on)."""


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


def _upcoming(subs: Sequence[Subscription], now: dt.datetime) -> set[dt.datetime]:
    """When `subs` next have a briefing due after `now`, and when deferred ones may be retried."""
    # Many subscriptions share a time and zone: work each pair out once.
    times = {next_due(at, zone, now) for at, zone in {(s.time, s.timezone) for s in subs}}
    return times | {s.not_before for s in subs if s.not_before is not None and s.not_before > now}


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


# Longer than the worst case of one send (an adapter waits out a few 30 s flood waits inside
# it), renewed every third of itself while a send is in flight and before each of delivery's own
# retries; a crashed sender's parts wait this long.
DEFAULT_LEASE = dt.timedelta(minutes=15)
# The longest "retry after" waited out in the process. A longer one leaves the chat due with a
# not-before time: a send must never hold its claim, or a worker, for an hour.
MAX_WAIT = dt.timedelta(seconds=30)

# (subscription id, local date) -> part index -> (the briefing's article ids, when it was sent)
_Unrecorded = dict[tuple[int, dt.date], dict[int, tuple[tuple[str, ...], dt.datetime]]]
# Moves of one chat followed within one part's send before it counts as a temporary failure.
MAX_MOVES = 2


@dataclass(slots=True)
class _Attempt:
    """One part on its way out: the job (its chat id follows moves) and the tries so far."""

    job: BriefingJob
    index: int
    failures: int = 0
    moves: int = 0


class Delivery:
    """Decides what is due, sends it through the platform adapters, and keeps the ledger."""

    def __init__(
        self,
        store: DeliveryStore,
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
        """Delivery through `adapters` (platform name -> adapter) from `library`'s articles.

        `retry_delays` are seconds between tries of one part (then it is left for the next
        pass); `renew_every` and `stop_grace` are real seconds (default: a third of `lease`,
        and 5 s); `clock` and `sleep` are injected so tests never wait.
        """
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
        # Days whose held parts reached the ledger later: this process sent them, so it, not
        # another sender, counts those briefings delivered when it closes them.
        self._recorded_late: set[tuple[int, dt.date]] = set()
        self._unknown_zones: set[int] = set()  # subscriptions already warned about
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
        for sub in self._scheduled():
            decision = decide_for(sub, now, catch_up=self._catch_up)
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
        return min({wake} | _upcoming(self._scheduled(), now))

    def _scheduled(self) -> list[Subscription]:
        """The active subscriptions this loop can deliver: a platform it has an adapter for, and
        a time zone this machine knows (one a tzdata update removed, or a hand-edited database,
        would otherwise stop every chat's briefing; warned about once a subscription)."""
        subs = []
        for sub in self._store.subscriptions():
            if sub.platform not in self._adapters:
                continue
            if not zone_known(sub.timezone):
                if sub.id not in self._unknown_zones:
                    self._unknown_zones.add(sub.id)
                    log.warning("%s chat %s: time zone %r is unknown here, so its daily briefing "
                                "is not sent; an admin's /subscribe HH:MM ZONE there (or its "
                                "config.yaml entry) sets a valid one", sub.platform,
                                sub.chat_id, sub.timezone)
                continue
            subs.append(sub)
        return subs

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

    # A pass

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
            self._skip(sub, miss)
            tally.add("skipped")
        tally.add("due", len(due))
        ready = self._not_deferred(due, now, tally)
        if ready:
            await self._work_through(ready, tally, stopping)
        return tally.report()

    def _not_deferred(self, due: list[tuple[Subscription, Due]], now: dt.datetime,
                      tally: _Tally) -> list[tuple[Subscription, Due]]:
        """The due briefings no platform asked to hold back past `now`; the rest are counted."""
        ready = []
        for sub, when in due:
            if sub.not_before is not None and sub.not_before > now:
                tally.add("deferred")
                tally.resume(sub.not_before)
            else:
                ready.append((sub, when))
        return ready

    async def _work_through(self, due: list[tuple[Subscription, Due]], tally: _Tally,
                            stopping: asyncio.Event) -> None:
        """Deliver `due` with up to `concurrency` chats at once, until done or stopping."""
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

    async def _deliver_guarded(self, sub: Subscription, when: Due, articles: Sequence[Article],
                               tally: _Tally, stop: asyncio.Event) -> None:
        try:
            job = self._job(sub, when, articles, tally)
            if job is not None:
                await self._deliver(job, tally, stop)
        except Exception:
            # One chat's fault must not stop the others; it stays due for the next pass.
            log.exception("%s chat %s: the %s briefing failed; will retry on the next pass",
                          sub.platform, sub.chat_id, when.local_date)
            tally.add("failed")

    def _skip(self, sub: Subscription, miss: Missed) -> None:
        """Close a day missed by more than the catch-up window, and say so."""
        log.warning(
            "%s chat %s: skipped the %s briefing due %s, missed by %s (catch-up window %s)",
            sub.platform, sub.chat_id, miss.local_date, miss.scheduled.isoformat(),
            miss.late_by, self._catch_up,
        )
        progress = self._store.progress(sub.id, miss.local_date)
        if progress.article_ids is None:
            self._finish(sub, miss.local_date, Finish())
            return
        # Part of it reached the chat: its articles count as sent, or tomorrow repeats them.
        found = [self._library.find(i) for i in progress.article_ids]
        self._finish_pinned(sub, miss.local_date, progress.article_ids, found,
                            newest_date=None if found[0] is None else found[0].date,
                            sent_at=progress.last_sent_at or self._clock())

    # One chat's briefing

    def _job(self, sub: Subscription, when: Due, articles: Sequence[Article],
             tally: _Tally) -> BriefingJob | None:
        """What this due briefing sends; None when the day closes with nothing to send."""
        progress = self._progress(sub.id, when.local_date)
        chosen = self._chosen(sub, when.local_date, articles, progress)
        if chosen is None:
            return None
        if not chosen:
            self._finish(sub, when.local_date, Finish())
            tally.add("nothing_new")
            return None
        parts = self._parts_of(self._adapters[sub.platform], chosen)
        return BriefingJob(sub, when, tuple(chosen), tuple(parts), progress.delivered_parts,
                           sub.chat_id)

    def _chosen(self, sub: Subscription, day: dt.date, articles: Sequence[Article],
                progress: BriefingProgress) -> list[Article] | None:
        """The briefing's articles: the new ones, or those a begun briefing is pinned to. None
        when a pinned article is gone from the library: the day is closed as sent."""
        if progress.article_ids is None:
            return self.new_articles(sub, articles, progress.sent_article_ids)
        # Some parts already went out: finish exactly that briefing, whatever is new since.
        found = [self._library.find(i) for i in progress.article_ids]
        chosen = [a for a in found if a is not None]
        if len(chosen) == len(found):
            return chosen
        log.warning("%s chat %s: an article of the %s briefing was removed mid-way; "
                    "closing it as sent", sub.platform, sub.chat_id, day)
        self._finish_pinned(sub, day, progress.article_ids, found, newest_date=None,
                            sent_at=self._clock())
        return None

    def _parts_of(self, adapter: Adapter, chosen: Sequence[Article]) -> Sequence[object]:
        """The rendered parts of the briefing of `chosen`, made once a pass per platform.

        Keyed by each article's content hash too, so an article edited mid-pass is not mixed up.
        """
        key = (adapter.platform, tuple((a.id, a.digest) for a in chosen))
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = tuple(adapter.render(self._compose(chosen)))
        return parts

    async def _deliver(self, job: BriefingJob, tally: _Tally, stop: asyncio.Event) -> None:
        """Send the job's parts in order, each claimed first; the last one closes the day."""
        for index in job.to_send():
            if stop.is_set():
                # Stopping between parts: the rest of this briefing goes out on the next start.
                tally.add("interrupted")
                return
            claim = self._store.claim_part(job.subscription.id, job.day, index, job.article_ids,
                                           claimant=self._claimant, now=self._clock(),
                                           lease=self._lease)
            if claim == "delivered":
                continue
            if claim != "claimed":
                # Another sender holds or has pinned this briefing; it will finish it in order.
                tally.add("duplicates_avoided")
                return
            sent = await self._deliver_part(_Attempt(job, index), tally, stop)
            if sent is None:
                return
            job = sent
            if job.is_last(index):  # recorded with the day's close
                tally.add("delivered")
                return
        # Every part was in the ledger already: sent by this process (a part it holds because
        # its ledger write failed) or by another sender, which counts it delivered itself.
        key = (job.subscription.id, job.day)
        ours = bool(self._unrecorded.get(key)) or key in self._recorded_late
        self._recorded_late.discard(key)
        self._finish(job.subscription, job.day, job.finish(self._clock()))
        tally.add("delivered" if ours else "duplicates_avoided")

    async def _deliver_part(self, attempt: _Attempt, tally: _Tally,
                            stop: asyncio.Event) -> BriefingJob | None:
        """Send one claimed part and settle what came of it; -> the job to go on with (its chat
        may have moved), or None when the briefing stops here for now."""
        try:
            await self._send(attempt, tally, stop)
        except (Exception, asyncio.CancelledError) as exc:
            outcome = outcome_of(exc, stopping=stop.is_set(), max_wait=self._max_wait)
            self._settle(attempt, outcome, tally, exc)
            if outcome == "crashed":
                raise
            return None
        return attempt.job if self._settle(attempt, "sent", tally) == "sent" else None

    def _settle(self, attempt: _Attempt, outcome: Outcome, tally: _Tally,
                error: BaseException | None = None, at: dt.datetime | None = None) -> Outcome:
        """Write, log and count what `outcome` (at `at`, default now) means (`OUTCOMES`);
        -> what it came to: a part sent whose ledger write failed is "unrecorded"."""
        effect = OUTCOMES[outcome]
        at = at or self._clock()
        try:
            until = self._write(effect.ledger, attempt, error, at)
        except Exception as exc:
            if outcome != "sent":
                raise
            return self._settle(attempt, "unrecorded", tally, exc, at)
        if effect.level:
            job = attempt.job
            log.log(effect.level, effect.says.format(
                platform=job.platform, chat=job.chat_id, part=attempt.index, day=job.day,
                error=error, reason=getattr(error, "reason", None),
                new_chat=getattr(error, "new_chat_id", None),
                until=None if until is None else until.isoformat(timespec="seconds")))
        for name in effect.counts:
            tally.add(name)
        if until is not None:
            tally.resume(until)
        return outcome

    def _write(self, write: LedgerWrite, attempt: _Attempt, error: BaseException | None,
               at: dt.datetime) -> dt.datetime | None:
        """Carry out one `LedgerWrite` for the part at `at`; -> the not-before of a deferral."""
        job, index, store = attempt.job, attempt.index, self._store
        sub_id, day = job.subscription.id, job.day
        if write in ("release", "defer", "pause"):  # not sent: the part stays due, unclaimed
            store.release_part(sub_id, day, index, claimant=self._claimant)
        match write, error:
            case "record", _:  # the last part closes the day in the same transaction
                store.record_part(sub_id, day, index, job.article_ids, claimant=self._claimant,
                                  sent_at=at, finish=job.finish(at) if job.is_last(index) else None)
            case "hold", _:
                self._unrecorded.setdefault((sub_id, day), {})[index] = (job.article_ids, at)
            case "defer", RateLimited(retry_after=seconds):
                until = at + dt.timedelta(seconds=seconds)
                store.defer(sub_id, until, str(error))
                return until
            case "pause", ChatUnavailable(reason=reason):
                store.pause(job.platform, job.chat_id, reason)
            case "move", ChatMoved(new_chat_id=new_chat_id):
                store.move_chat(job.platform, job.chat_id, new_chat_id)
        return None

    async def _send(self, attempt: _Attempt, tally: _Tally, stop: asyncio.Event) -> None:
        """Send one part, retrying temporary failures and following a moved chat (the attempt's
        job then goes to the new id); raises what ends the attempt."""
        while True:
            try:
                await self._send_holding(attempt, stop)
                return
            except TemporaryFailure as exc:
                await self._wait_to_retry(attempt, exc, stop)
            except ChatMoved as exc:
                self._follow(attempt, exc, tally)

    async def _wait_to_retry(self, attempt: _Attempt, error: TemporaryFailure,
                             stop: asyncio.Event) -> None:
        """Wait before the next try, holding the claim; raises `error` when there is none."""
        delay = self._retry_delay(error, attempt.failures, stop)
        if delay is None:
            raise error
        attempt.failures += 1
        log.info("%s chat %s: %s; retrying in %.1f s (%d of %d)", attempt.job.platform,
                 attempt.job.chat_id, error, delay, attempt.failures, len(self._retry_delays))
        if await self._sleep_unless_stopped(delay, stop):
            raise error
        if not self._renew(attempt):
            raise ClaimLost from error

    def _retry_delay(self, error: TemporaryFailure, failures: int,
                     stop: asyncio.Event) -> float | None:
        """Seconds to wait before trying again after `failures` failed tries; None: don't."""
        if failures >= len(self._retry_delays) or stop.is_set():
            return None
        if isinstance(error, OutcomeUnknown):
            return None  # it may have arrived: another try now could only add a copy
        delay = self._retry_delays[failures]
        if isinstance(error, RateLimited):
            if dt.timedelta(seconds=error.retry_after) > self._max_wait:
                return None
            delay = max(delay, error.retry_after)
        return delay

    def _follow(self, attempt: _Attempt, moved: ChatMoved, tally: _Tally) -> None:
        """The chat has a new id: move the subscription there and send there next."""
        attempt.moves += 1
        job = attempt.job
        if attempt.moves > MAX_MOVES:
            raise TemporaryFailure(f"chat {job.chat_id} keeps moving") from moved
        listed = job.subscription.source == "config"
        self._settle(attempt, "moved_listed" if listed else "moved", tally, moved)
        current = self._store.subscription(job.platform, moved.new_chat_id)
        if current is None or current.id != job.subscription.id:
            raise Superseded from moved
        attempt.job = job.moved_to(moved.new_chat_id)

    def _renew(self, attempt: _Attempt) -> bool:
        """Extend the lease on the attempt's part; False if the claim is no longer ours."""
        job = attempt.job
        return self._store.renew_claim(job.subscription.id, job.day, attempt.index,
                                       claimant=self._claimant, now=self._clock(),
                                       lease=self._lease)

    async def _send_holding(self, attempt: _Attempt, stop: asyncio.Event) -> None:
        """`adapter.send_part`, renewing the claim while it runs (it may wait out rate limits).

        If the claim turns out to be someone else's (our lease lapsed and another sender took
        it, or sent and recorded the part), the send is cancelled where it is and
        `ClaimLost(mid_send=True)` is raised: nothing goes out if the platform did not have the
        message yet; one it already had stays sent (the one duplicate a lapsed lease allows).
        """
        job = attempt.job
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
                    held = self._renew(attempt)
                except Exception:
                    # Storage trouble: the lease still runs; let the send go on.
                    log.exception("chat %s: could not renew the claim on a send in flight",
                                  job.chat_id)
                    continue
                if not held:
                    lost = True
                    task.cancel()
                    return

        helpers = (asyncio.create_task(keep()), asyncio.create_task(cut_when_stopping()))
        try:
            await self._adapters[job.platform].send_part(job.chat_id, job.parts[attempt.index],
                                                         thread_id=job.thread_id)
        except asyncio.CancelledError:
            if lost and task.uncancel() == 0:
                raise ClaimLost(mid_send=True) from None
            if cut and task.uncancel() == 0:
                raise TemporaryFailure(
                    f"still waiting {self._stop_grace:.0f} s after the stop signal"
                ) from None
            raise
        finally:
            for helper in helpers:
                helper.cancel()

    # What the ledger could not hold

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
        return dataclasses.replace(progress, article_ids=ids,
                                   delivered_parts=progress.delivered_parts | frozenset(remembered))

    def _finish_pinned(self, sub: Subscription, day: dt.date, ids: Sequence[str],
                       found: Sequence[Article | None], *, newest_date: dt.date | None,
                       sent_at: dt.datetime) -> None:
        """Close a day whose briefing was pinned to `ids` (`found` in the library, or None) as
        sent: the chat got at least its first part."""
        sent = tuple((i, None if a is None else a.date) for i, a in zip(ids, found, strict=True))
        self._finish(sub, day, Finish(ids[0], newest_date, sent_at, sent,
                                      (sub.platform, sub.chat_id)))

    def _finish(self, sub: Subscription, day: dt.date, finish: Finish) -> None:
        self._store.finish_briefing(
            sub.id, day, newest_article_id=finish.newest_article_id,
            newest_article_date=finish.newest_article_date, sent_at=finish.sent_at,
            sent_articles=finish.sent_articles, briefed_chat=finish.briefed_chat)

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
            self._recorded_late.add(key)

    def record_unrecorded(self) -> int:
        """Write the sent-but-unrecorded parts to the ledger if storage allows; -> how many remain.

        They stay in memory only: a process that exits with some left has logged each of them.
        """
        for key in list(self._unrecorded):
            self._flush(key)
        return sum(len(parts) for parts in self._unrecorded.values())

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
    store: DeliveryStore,
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
