"""The optional grounded reader: an OpenAI-compatible chat endpoint whose answers are checked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import snowballstemmer
from rapidfuzz import fuzz

from briefbot.articles import Article
from briefbot.config import ReaderConfig
from briefbot.logs import register_secret
from briefbot.qa.answer import Answer, _compose
from briefbot.qa.table import article_sentences
from briefbot.text import strip_emoji

log = logging.getLogger(__name__)

# Requests to the endpoint at once; more wait for a free slot (inside their timeout). A local
# model serves one or a few at a time, so a burst of questions queues here instead of there.
MAX_CONCURRENT_REQUESTS = 4
# Article text sent with a question: ~1,500 tokens, within any small model's context and quick
# to read on a CPU. Longer articles send the sentences sharing most words with the question.
MAX_ARTICLE_CHARS = 6000
# How alike (rapidfuzz, 0-100) the model's quote and an article sentence must be for the quote
# to count as that sentence. Small models drop or change a word or two when copying; an invented
# quote scores far lower. A clause copied from a longer sentence counts too (partial_ratio),
# when it is at least QUOTE_MIN_CHARS long: shorter bits ("the council said") are too common.
QUOTE_MATCH_MIN = 90
QUOTE_MIN_CHARS = 30
# Telegram's "typing…" lasts 5 s; it is renewed this often while the endpoint thinks.
WORKING_EVERY_SECONDS = 4.5
# Reply text looked at for a JSON object; a model rambling past this has not followed the format.
MAX_REPLY_CHARS = 20_000

Working = Callable[[], Awaitable[None]]

SYSTEM_PROMPT = (
    "You answer a question about one news article, using only the article's numbered "
    "sentences. Reply with a JSON object only: "
    '{"answer": "<a short answer, a few words>", '
    '"quote": "<the one sentence that says it, copied exactly>"}. '
    'If the sentences do not say, reply {"answer": null, "quote": null}. '
    "Never guess and never use outside knowledge."
)
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "grounded_answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "answer": {"type": ["string", "null"]},
                "quote": {"type": ["string", "null"]},
            },
            "required": ["answer", "quote"],
            "additionalProperties": False,
        },
    },
}
# What is asked for, best first. Not every server takes a JSON schema (llama-cpp-python's answers
# `json_schema` with HTTP 500); one that refuses a format (400, 422 or 500 with an error naming
# it), then accepts the next, is asked in that next format from then on (said once at WARNING).
# With none, the model is asked by the system prompt alone; a JSON object in prose still reads.
RESPONSE_FORMATS: tuple[dict[str, Any] | None, ...] = (
    RESPONSE_FORMAT, {"type": "json_object"}, None)
_FORMAT_REFUSED = (400, 422, 500)


class ReaderFailed(Exception):
    """Why the reader's reply cannot be shown (said in the debug log, never to the user)."""


class Reader:
    """Asks the configured endpoint; shows its answer only when an article sentence backs it.

    One instance per process: it holds the HTTP connection pool and the concurrency cap. Call
    `aclose()` when done.
    """

    def __init__(self, config: ReaderConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        if config.api_key is not None:
            register_secret(config.api_key.reveal())
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self._warned: set[str] = set()
        self._format = 0  # index into RESPONSE_FORMATS: the best format the endpoint takes

    def __repr__(self) -> str:
        return f"Reader(model={self.config.model!r})"

    async def aclose(self) -> None:
        """Close the connection pool (safe to call twice)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def improve(self, offline: Answer, article: Article, *,
                      working: Working | None = None) -> Answer:
        """The reader's answer about `article` when grounded in it, else `offline` unchanged.

        `offline` is the offline engine's answer for the same question, routed to `article`.
        An editor's answer or a byline (found, citing no sentence) is kept as it is. `working`
        is awaited before asking and every WORKING_EVERY_SECONDS after (a "typing…" sign);
        its failures are ignored. Never raises for the endpoint's faults: a timeout, an HTTP
        error, a reply that is not the JSON asked for, a quote not in the article or an answer
        not in its quote all give back `offline` (logged at debug).
        """
        if offline.found and offline.source is None:
            return offline
        sentences = article_sentences(article)
        if not sentences:
            return offline
        shown = pick_sentences(offline.question, sentences, offline.source)
        try:
            # The timeout covers waiting for a free slot too: it is what the person waits.
            async with asyncio.timeout(self.config.timeout), _keep_working(working), self._slots:
                content = await self._complete(offline.question, article, sentences, shown)
            reply = parse_reply(content)
            if reply is None:
                self._fell_back(article, "the model says the article does not say")
                return offline
            said, quote = reply
            index = ground(said, quote, sentences)
        except TimeoutError:
            self._fell_back(article, f"no reply within {self.config.timeout:g} s")
            return offline
        except ReaderFailed as exc:
            self._fell_back(article, str(exc))
            return offline
        source = sentences[index]
        fact, cited, text = _compose(said, source)
        log.debug("qa.reader: article %s: answered from sentence %d", article.id, index + 1)
        return Answer(question=offline.question, found=True, text=text, article_id=article.id,
                      source=source, fact=fact, quote=cited, origin="reader")

    def _fell_back(self, article: Article, reason: str) -> None:
        log.debug("qa.reader: article %s: %s; the offline answer stands", article.id, reason)

    def _warn_once(self, kind: str, message: str) -> None:
        """A fault a person must fix (endpoint down, model unknown), said once per process."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("qa.reader: %s; answers come from the offline engine until it is fixed",
                        message)

    async def _complete(self, question: str, article: Article, sentences: Sequence[str],
                        shown: Sequence[int]) -> str:
        """The message content the endpoint replies with; ReaderFailed for any fault."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout,
                                             transport=self._transport)
        payload: dict[str, Any] = {
            "model": self.config.model,
            "temperature": 0,
            "stream": False,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(question, article, sentences, shown)},
            ],
        }
        level = self._format
        response = await self._post(payload, RESPONSE_FORMATS[level])
        while _refuses_format(response) and level + 1 < len(RESPONSE_FORMATS):
            # Maybe the format it refuses, not the question: try the next one (a real fault
            # fails in every format, and the last failure is what is reported).
            level += 1
            response = await self._post(payload, RESPONSE_FORMATS[level])
            if response.status_code == 200 and level > self._format:
                refused = RESPONSE_FORMATS[self._format]
                self._format = level
                now = RESPONSE_FORMATS[level]
                log.warning("qa.reader: the endpoint refuses response_format %s; asking for %s "
                            "from now on", refused and refused["type"],
                            f"response_format {now['type']}" if now else "JSON by the prompt alone")
        if response.status_code in (401, 403, 404):
            self._warn_once(f"http {response.status_code}", (
                f"the endpoint refused the request (HTTP {response.status_code}); check "
                "qa.reader.url, qa.reader.model and BRIEFBOT_READER_API_KEY"))
        if response.status_code in (400, 422):  # refused in every format: the request is wrong
            self._warn_once(f"http {response.status_code}", (
                f"the endpoint refused the request (HTTP {response.status_code}); check "
                "qa.reader.model and that the endpoint speaks OpenAI chat completions"))
        if response.status_code != 200:
            raise ReaderFailed(f"HTTP {response.status_code}")
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            raise ReaderFailed("the reply is not a chat completion") from None
        if not isinstance(content, str):
            raise ReaderFailed("the reply has no message content")
        return content


    async def _post(self, payload: dict[str, Any],
                    response_format: dict[str, Any] | None) -> httpx.Response:
        """POST one chat completion asking for `response_format` (None: not asked)."""
        assert self._client is not None
        headers = {"Accept": "application/json"}
        if self.config.api_key is not None:
            headers["Authorization"] = f"Bearer {self.config.api_key.reveal()}"
        body = payload if response_format is None else payload | {
            "response_format": response_format}
        try:
            return await self._client.post(f"{self.config.url}/chat/completions", json=body,
                                           headers=headers)
        except httpx.TimeoutException:
            raise TimeoutError from None
        except httpx.HTTPError as exc:
            # The class name only: an exception's text holds the URL, which an operator may
            # have given a key in (?key=…).
            self._warn_once("unreachable", f"cannot reach qa.reader.url ({type(exc).__name__})")
            raise ReaderFailed(f"cannot reach the endpoint ({type(exc).__name__})") from None


def _refuses_format(response: httpx.Response) -> bool:
    """Whether the endpoint refused the response_format asked for, not the request as such."""
    if response.status_code not in _FORMAT_REFUSED:
        return False
    said = response.text[:2000].lower()
    return any(word in said for word in ("response_format", "json_schema", "schema"))


@contextlib.asynccontextmanager
async def _keep_working(working: Working | None) -> AsyncIterator[None]:
    """Show the person the bot is working (now and every few seconds) while the body runs."""
    if working is None:
        yield
        return

    async def repeat() -> None:
        while True:
            try:
                await working()
            except Exception as exc:  # a lost "typing…" must never cost the answer
                log.debug("qa.reader: could not show that the bot is working: %r", exc)
            await asyncio.sleep(WORKING_EVERY_SECONDS)

    task = asyncio.create_task(repeat(), name="reader-working")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- the prompt ---------------------------------------------------------------------------------


def pick_sentences(question: str, sentences: Sequence[str], source: str | None) -> list[int]:
    """Indices of the sentences to send, in article order, within MAX_ARTICLE_CHARS.

    All of them when they fit; else the offline answer's `source` and those sharing most words
    with the question, then the earliest (the lead carries most of a news story).
    """
    if sum(len(s) + 6 for s in sentences) <= MAX_ARTICLE_CHARS:
        return list(range(len(sentences)))
    asked = set(_stems(question))

    def rank(i: int) -> tuple[int, int, int]:
        return (sentences[i] != source, -len(asked & set(_stems(sentences[i]))), i)

    chosen: list[int] = []
    used = 0
    for i in sorted(range(len(sentences)), key=rank):
        if used + len(sentences[i]) + 6 > MAX_ARTICLE_CHARS:
            continue
        chosen.append(i)
        used += len(sentences[i]) + 6
    return sorted(chosen)


def user_prompt(question: str, article: Article, sentences: Sequence[str],
                shown: Sequence[int]) -> str:
    """The headline, the numbered sentences (numbers as in the article), then the question."""
    lines = [f"Headline: {strip_emoji(article.title)}", ""]
    lines += [f"[{i + 1}] {sentences[i]}" for i in shown]
    lines += ["", f"Question: {question}"]
    return "\n".join(lines)


# --- checking the reply -------------------------------------------------------------------------


def parse_reply(content: str) -> tuple[str, str] | None:
    """(answer, quote) from the model's message, None when it says the article does not say.

    Takes a bare JSON object or the first one with an "answer" key inside prose or a code
    fence. ReaderFailed when there is none, or an answer comes without a quote.
    """
    content = content[:MAX_REPLY_CHARS]
    reply: object = None
    with contextlib.suppress(ValueError):
        reply = json.loads(content)
    if not isinstance(reply, dict):
        decoder = json.JSONDecoder()
        for brace in re.finditer(r"\{", content):
            try:
                candidate, _ = decoder.raw_decode(content, brace.start())
            except ValueError:
                continue
            if isinstance(candidate, dict) and "answer" in candidate:
                reply = candidate
                break
    if not isinstance(reply, dict) or "answer" not in reply:
        raise ReaderFailed("the reply holds no JSON object with an answer")
    answer, quote = reply.get("answer"), reply.get("quote")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None
    if not isinstance(answer, str):
        raise ReaderFailed("the answer is not text")
    if not isinstance(quote, str) or not quote.strip():
        raise ReaderFailed("the answer comes without a quote")
    return answer.strip(), quote


def ground(answer: str, quote: str, sentences: Sequence[str]) -> int:
    """The index of the article sentence `quote` stands for, when it also holds `answer`.

    ReaderFailed when no sentence is alike enough (an invented quote) or the answer's words
    are not in the sentence (an answer the quote does not back).
    """
    asked = _plain(re.sub(r"^\s*\[\d+\]\s*", "", quote)).strip(" \"'")
    best, best_score = -1, 0.0
    for i, sentence in enumerate(sentences):
        plain = _plain(sentence)
        score = fuzz.ratio(asked, plain)
        if len(asked) >= QUOTE_MIN_CHARS:
            score = max(score, fuzz.partial_ratio(asked, plain))
        if score > best_score:
            best, best_score = i, score
    if best < 0 or best_score < QUOTE_MATCH_MIN:
        raise ReaderFailed(f"the quote is not in the article (best match {best_score:.0f})")
    words = _stems(answer)
    if not words:
        raise ReaderFailed("the answer has no words to check")
    held = set(_stems(sentences[best]))
    missing = [w for w in words if w not in held]
    if missing:
        raise ReaderFailed(f"the answer is not in the quoted sentence ({len(missing)} words "
                           "missing)")
    return best


_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'",
                       "–": "-", "—": "-", "‑": "-", "\u00a0": " "})


def _plain(text: str) -> str:
    """Case, quote marks, dashes, emoji and spacing made alike, for comparing copies."""
    text = unicodedata.normalize("NFKC", strip_emoji(text)).translate(_FOLD).casefold()
    return " ".join(text.split())


# Words that carry no fact: an answer needs none of them in its sentence.
_STOPWORDS = frozenset("""
    a an the of in on at to for by with and or but as from into onto than then so that this these
    those there here it its it's they them their theirs he him his she her hers we us our you your
    i me my is are was were be been being am has have had do does did will would shall should can
    could may might must which who whom whose what when where why how about over per according
    said says say also just only some any all both each other such very too s
""".split())
_NUMBERS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUMBERS |= {w: str(10 * n) for n, w in enumerate(
    "thirty forty fifty sixty seventy eighty ninety".split(), start=3)}
_MONTHS = {m[:3]: m for m in (
    "january february march april may june july august september october november december"
    ).split()} | {"sept": "september"}
_SIGNS = {"$": " dollar ", "€": " euro ", "£": " pound ", "%": " percent ", "&": " and "}
_stemmer = snowballstemmer.stemmer("english")


def _stems(text: str) -> list[str]:
    """The fact-bearing words of `text`, stemmed, with numbers, signs and months made alike."""
    text = _plain(text).replace("per cent", "percent")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,800 -> 1800
    text = re.sub(r"(?<=\w)'s\b", "", text)  # NATO's -> NATO
    text = re.sub(r"\b(\w)\.(?=\w\.)", r"\1", text).replace(".", " ")  # U.S. -> us
    for sign, word in _SIGNS.items():
        text = text.replace(sign, word)
    words = [w for w in re.findall(r"[^\W_]+", text) if w not in _STOPWORDS]
    words = [_NUMBERS.get(w) or _MONTHS.get(w) or w for w in words]
    stems: list[str] = _stemmer.stemWords(words)
    return stems
