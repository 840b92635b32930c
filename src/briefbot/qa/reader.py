"""The optional grounded reader: an OpenAI-compatible chat endpoint whose answers are checked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import httpx
import snowballstemmer
from rapidfuzz import fuzz

from briefbot.articles import Article
from briefbot.config import ReaderConfig
from briefbot.logs import register_secret
from briefbot.qa.answer import DOESNT_SAY, Answer, _compose
from briefbot.qa.questions import YESNO, parse_question
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
# An explanation the model put in its own words (a why, a how) is cited by the sentence holding
# most of its words, shown alone, when it has at least this many words to find and the sentence
# holds at least this share of them (see `cite`).
LONG_ANSWER_WORDS = 5
MOSTLY_HELD = 0.75
# Telegram's "typing…" lasts 5 s; it is renewed this often while the endpoint thinks.
WORKING_EVERY_SECONDS = 4.5
# Reply text looked at for a JSON object; a model rambling past this has not followed the format.
MAX_REPLY_CHARS = 20_000
# Tokens the model may write (max_tokens): an answer and its quote fit in far fewer; a model that
# rambles on (small ones in JSON mode sometimes pad with blanks) is cut off rather than holding
# the endpoint, and the questions queued behind it, for minutes. The self-check's verdict is a
# word.
MAX_ANSWER_TOKENS = 300
MAX_CHECK_TOKENS = 20
# A "clear yes" from the self-check: where the endpoint gives token probabilities (the OpenAI
# `logprobs` field; OpenAI, vLLM, llama.cpp and newer Ollama do), the model's probability of
# "yes" against "no" at the verdict must be at least this; where it gives none, the word "yes"
# is enough. A small model's yes to a wrong answer is mostly a hesitant one. Chosen with
# Qwen2.5-Coder-1.5B on 97 tune questions (chat_d01-06; bench/qa_reader.py), then tried on 92
# others (chat_d07-12): unanswerable questions declined 43% -> 68% there, answerable ones right
# 70% -> 69%.
CHECK_MIN_YES = 0.65
CHECK_TOP_LOGPROBS = 5

# What became of a question sent to the reader (`Reader.improve_traced`; `briefbot ask --json`
# says it as "reader"). Only "answered" shows the reader's answer; "vetoed" declines; the rest
# show the offline engine's answer.
OUTCOMES = (
    "answered",             # grounded, and the self-check agreed
    "not-asked",            # an editor's answer or a byline, or an article without sentences
    "null",                 # the model says the article does not say
    "bad-reply",            # not a chat completion, no JSON object, an answer that is not text
    "no-quote",             # an answer without its quote
    "quote-not-found",      # the quote is no article sentence (invented, or copied too loosely)
    "answer-not-in-article",  # no article sentence holds all the answer's words
    "number-mismatch",      # a number in the answer sits with other words in the sentence
    "vetoed",               # the self-check doubts the answer: the bot declines (see `improve`)
    "doubted",              # it doubts a bare yes/no or an explanation (see `cite`): the
                            # offline answer stands, the doubt being about our reading of it
    "timeout",              # no reply (both calls) within qa.reader.timeout
    "http-error",           # the endpoint answered with an HTTP error
    "unreachable",          # no connection to the endpoint
)

Working = Callable[[], Awaitable[None]]

SYSTEM_PROMPT = (
    "You answer a question about one news article, using only the article's numbered "
    "sentences. Reply with a JSON object only: "
    '{"answer": "<a short answer, a few words>", '
    '"quote": "<the one sentence that says it, copied exactly>"}. '
    'If the sentences do not say, reply {"answer": null, "quote": null}. '
    "Never guess and never use outside knowledge."
)
# The second, short call (the self-check): does the cited sentence give that answer to the
# question? Any reply but a clear "yes" vetoes the answer (the offline answer stands). It catches
# what word overlap cannot: a wrong reading of a real sentence ("3 died" from "3 were injured and
# 1 died"), an answer to another question. It is a fresh conversation holding only that sentence:
# asked as a follow-up to its own answer, a small model (Qwen2.5-Coder-1.5B) said yes to every
# answer on 20 tune questions; asked afresh, it said no to 5 of the 9 wrong ones and 1 of the 11
# right ones.
CHECK_PROMPT = (
    "You check an answer to a question about a news article against the one sentence it is "
    "taken from. Say yes only if that sentence itself states this answer to this question; "
    "say no if it says something else, answers a different question, or does not say. "
    'Reply with a JSON object only: {"verdict": "yes"} or {"verdict": "no"}.'
)
CHECK_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer_check",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
            "required": ["verdict"],
            "additionalProperties": False,
        },
    },
}
# A cited sentence opening with one of these leans on the sentence before it (shown as context).
_LEANING = frozenset("he she it they this that these those his her its their there".split())
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
# What is asked for, best first: the call's JSON schema, any JSON object, nothing. Not every
# server takes a JSON schema (llama-cpp-python's answers `json_schema` with HTTP 500); one that
# refuses a format (400, 422 or 500 with an error naming it), then accepts the next, is asked in
# that next format from then on (said once at WARNING). With none, the model is asked by the
# system prompt alone; a JSON object in prose still reads.
FORMAT_LADDER: tuple[str | None, ...] = ("json_schema", "json_object", None)
_FORMAT_REFUSED = (400, 422, 500)


class ReaderFailed(Exception):
    """Why the reader's reply cannot be shown (said in the debug log, never to the user).

    `outcome` is the OUTCOMES entry it counts as.
    """

    def __init__(self, reason: str, outcome: str = "bad-reply") -> None:
        super().__init__(reason)
        self.outcome = outcome


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
        self._format = 0  # index into FORMAT_LADDER: the best format the endpoint takes
        self._logprobs = True  # ask the self-check for token probabilities (until refused)

    def __repr__(self) -> str:
        return f"Reader(model={self.config.model!r})"

    async def aclose(self) -> None:
        """Close the connection pool (safe to call twice)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def improve(self, offline: Answer, article: Article, *,
                      working: Working | None = None) -> Answer:
        """The reader's answer about `article` when grounded in it; a decline when its own
        self-check doubts it; else `offline` unchanged.

        `offline` is the offline engine's answer for the same question, routed to `article`.
        An editor's answer or a byline (found, citing no sentence) is kept as it is. `working`
        is awaited before asking and every WORKING_EVERY_SECONDS after (a "typing…" sign);
        its failures are ignored. The reader's answer is shown only when its quote is an
        article sentence, an article sentence holds the answer's words (numbers with the words
        they go with; that sentence is cited, see `ground`; a bare yes or no and an
        explanation in the model's own words are cited from the quoted sentence, or the one
        holding most of the explanation, see `cite`) and a second, short call (the
        self-check) says that sentence gives that answer; both calls share qa.reader.timeout
        (seconds). When the self-check doubts a word-for-word answer (vetoes it), the question
        is most likely a near miss the article does not answer, and the reply is "the article
        doesn't say" (`offline` itself when it declines too); a doubted yes/no or explanation
        keeps `offline` ("doubted"). With Qwen2.5-Coder-1.5B on 189 tune
        questions this declined 71% of unanswerable questions where showing the offline answer
        declined 55%, for 3 of 131 answerable ones (bench/qa_reader.py). Never raises for the
        endpoint's faults: a timeout, an HTTP error, a reply that is not the JSON asked for, a
        quote not in the article or an answer in no sentence of it give back `offline` (logged
        at debug).
        """
        answer, _ = await self.improve_traced(offline, article, working=working)
        return answer

    async def improve_traced(self, offline: Answer, article: Article, *,
                             working: Working | None = None) -> tuple[Answer, str]:
        """`improve`, with what became of the question: one of OUTCOMES ("answered": the
        reader's answer is shown; anything else: `offline` is)."""
        if offline.found and offline.source is None:
            return offline, "not-asked"
        sentences = article_sentences(article)
        if not sentences:
            return offline, "not-asked"
        shown = pick_sentences(offline.question, sentences, offline.source)
        try:
            # The timeout covers waiting for a free slot and both calls: it is what the person
            # waits.
            async with asyncio.timeout(self.config.timeout), _keep_working(working), self._slots:
                asked = [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": user_prompt(offline.question, article,
                                                                 sentences, shown)}]
                content, _ = await self._complete(asked, RESPONSE_FORMAT, MAX_ANSWER_TOKENS)
                reply = parse_reply(content)
                if reply is None:
                    self._fell_back(article, "the model says the article does not say")
                    return offline, "null"
                said, quote = reply
                citation = cite(said, quote, sentences, offline.question)
                try:
                    await self._check(offline.question, said, sentences, citation.at)
                except ReaderFailed as exc:
                    if citation.word_for_word:
                        raise
                    raise ReaderFailed(str(exc), "doubted") from None
        except TimeoutError:
            self._fell_back(article, f"no reply within {self.config.timeout:g} s")
            return offline, "timeout"
        except ReaderFailed as exc:
            if exc.outcome == "vetoed":
                return self._declined(offline, article, str(exc)), exc.outcome
            self._fell_back(article, str(exc))
            return offline, exc.outcome
        source = sentences[citation.at]
        fact, cited, text = _compose(said if citation.word_for_word else None, source)
        log.debug("qa.reader: article %s: answered from sentence %d", article.id,
                  citation.at + 1)
        return Answer(question=offline.question, found=True, text=text, article_id=article.id,
                      source=source, fact=fact, quote=cited, origin="reader"), "answered"

    async def _check(self, question: str, said: str, sentences: Sequence[str],
                     index: int) -> None:
        """The self-check: ReaderFailed("vetoed") unless the model says, clearly, that sentence
        `index` gives `said` as the answer to `question` (see CHECK_MIN_YES)."""
        content, tokens = await self._complete(
            [{"role": "system", "content": CHECK_PROMPT},
             {"role": "user", "content": check_prompt(question, said, sentences, index)}],
            CHECK_FORMAT, MAX_CHECK_TOKENS, logprobs=self._logprobs)
        verdict = parse_verdict(content)
        if verdict is not True:
            raise ReaderFailed("the self-check says the sentence does not give that answer"
                               if verdict is False else "the self-check's reply is unclear",
                               "vetoed")
        sure = yes_probability(tokens)
        if sure is not None and sure < CHECK_MIN_YES:
            raise ReaderFailed(f"the self-check's yes is hesitant (p = {sure:.2f})", "vetoed")

    def _declined(self, offline: Answer, article: Article, reason: str) -> Answer:
        """ "The article doesn't say" for a question whose reader answer was vetoed (the
        offline decline itself, suggestions and all, when the offline engine declined too)."""
        log.debug("qa.reader: article %s: %s; declined", article.id, reason)
        if not offline.found:
            return offline
        return Answer(question=offline.question, found=False, text=DOESNT_SAY,
                      article_id=article.id)

    def _fell_back(self, article: Article, reason: str) -> None:
        log.debug("qa.reader: article %s: %s; the offline answer stands", article.id, reason)

    def _warn_once(self, kind: str, message: str) -> None:
        """A fault a person must fix (endpoint down, model unknown), said once per process."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("qa.reader: %s; answers come from the offline engine until it is fixed",
                        message)

    async def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any],
                        max_tokens: int, *, logprobs: bool = False
                        ) -> tuple[str, list[Any] | None]:
        """The message content the endpoint replies with to `messages`, asked for the JSON
        `schema` (a json_schema response_format) or the best format it takes, and with
        `logprobs` the reply's tokens (OpenAI's choices[0].logprobs.content: token, logprob,
        top_logprobs), None when it gives none; ReaderFailed for any fault. An endpoint that
        refuses `logprobs` is asked without them, now and from then on."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout,
                                             transport=self._transport)
        payload: dict[str, Any] = {
            "model": self.config.model,
            "temperature": 0,
            "stream": False,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if logprobs:
            payload |= {"logprobs": True, "top_logprobs": CHECK_TOP_LOGPROBS}

        def format_at(level: int) -> dict[str, Any] | None:
            kind = FORMAT_LADDER[level]
            return schema if kind == "json_schema" else ({"type": kind} if kind else None)

        level = self._format
        response = await self._post(payload, format_at(level))
        if logprobs and _refuses(response, "logprobs"):
            self._logprobs = False
            log.warning("qa.reader: the endpoint refuses logprobs; the self-check reads the "
                        "word yes alone from now on")
            payload = {k: v for k, v in payload.items() if k not in ("logprobs", "top_logprobs")}
            response = await self._post(payload, format_at(level))
        while _refuses_format(response) and level + 1 < len(FORMAT_LADDER):
            # Maybe the format it refuses, not the question: try the next one (a real fault
            # fails in every format, and the last failure is what is reported).
            level += 1
            response = await self._post(payload, format_at(level))
            if response.status_code == 200 and level > self._format:
                refused = FORMAT_LADDER[self._format]
                self._format = level
                now = FORMAT_LADDER[level]
                log.warning("qa.reader: the endpoint refuses response_format %s; asking for %s "
                            "from now on", refused,
                            f"response_format {now}" if now else "JSON by the prompt alone")
        if response.status_code in (401, 403, 404):
            self._warn_once(f"http {response.status_code}", (
                f"the endpoint refused the request (HTTP {response.status_code}); check "
                "qa.reader.url, qa.reader.model and BRIEFBOT_READER_API_KEY"))
        if response.status_code in (400, 422):  # refused in every format: the request is wrong
            self._warn_once(f"http {response.status_code}", (
                f"the endpoint refused the request (HTTP {response.status_code}); check "
                "qa.reader.model and that the endpoint speaks OpenAI chat completions"))
        if response.status_code != 200:
            raise ReaderFailed(f"HTTP {response.status_code}", "http-error")
        try:
            body = response.json()
            choice = body["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, LookupError, TypeError):
            raise ReaderFailed("the reply is not a chat completion") from None
        if not isinstance(content, str):
            raise ReaderFailed("the reply has no message content")
        tokens = (choice.get("logprobs") or {}).get("content") if logprobs else None
        return content, tokens if isinstance(tokens, list) else None

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
            raise ReaderFailed(f"cannot reach the endpoint ({type(exc).__name__})",
                               "unreachable") from None


def _refuses_format(response: httpx.Response) -> bool:
    """Whether the endpoint refused the response_format asked for, not the request as such."""
    return _refuses(response, "response_format", "json_schema", "schema")


def _refuses(response: httpx.Response, *fields: str) -> bool:
    """Whether the endpoint refused the request naming one of `fields` (400, 422 or 500)."""
    if response.status_code not in _FORMAT_REFUSED:
        return False
    said = response.text[:2000].lower()
    return any(field in said for field in fields)


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


def check_prompt(question: str, said: str, sentences: Sequence[str], index: int) -> str:
    """The self-check's message: the cited sentence (after the one before it, when it opens
    with a pronoun), the question and the proposed answer."""
    sentence = sentences[index]
    first = re.findall(r"[^\W_]+", sentence[:30].casefold())
    lines = []
    if index > 0 and first and first[0] in _LEANING:
        lines += [f"The sentence before it (context only): {sentences[index - 1]}", ""]
    lines += [f"Sentence: {sentence}", "", f"Question: {question}", f"Answer: {said}", "",
              "Does the sentence state this answer to this question?"]
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
        raise ReaderFailed("the answer comes without a quote", "no-quote")
    return answer.strip(), quote


def parse_verdict(content: str) -> bool | None:
    """The self-check's verdict: True for yes, False for no, None when unclear.

    Reads {"verdict": "yes"|"no"} (or a true/false value), else a reply whose first word is
    yes or no.
    """
    content = content[:MAX_REPLY_CHARS].strip()
    reply: object = None
    with contextlib.suppress(ValueError):
        reply = json.loads(content)
    if isinstance(reply, dict) and len(reply) == 1:
        [value] = reply.values()
        if isinstance(value, bool):
            return value
        content = str(value)
    first = re.match(r"[\W_]*([a-z]+)", content.casefold())
    word = first.group(1) if first else ""
    return True if word == "yes" else False if word == "no" else None


def yes_probability(tokens: Sequence[Any] | None) -> float | None:
    """P(yes) / (P(yes) + P(no)) at the self-check's verdict token, from OpenAI-style
    `logprobs.content` (each {"token", "logprob", "top_logprobs": [{"token", "logprob"}]});
    spellings such as "Yes" and " yes" count as yes. None when there are no probabilities or
    the verdict token and its alternatives are not found in them."""
    for token in tokens or ():
        if not isinstance(token, dict) or _verdict_word(token.get("token")) is None:
            continue
        odds = {"yes": 0.0, "no": 0.0}
        for other in token.get("top_logprobs") or [token]:
            word = _verdict_word(other.get("token")) if isinstance(other, dict) else None
            logprob = other.get("logprob") if isinstance(other, dict) else None
            if word is not None and isinstance(logprob, int | float):
                odds[word] += math.exp(min(0.0, float(logprob)))
        total = odds["yes"] + odds["no"]
        return odds["yes"] / total if total > 0 else None
    return None


def _verdict_word(token: object) -> str | None:
    word = token.strip(" \"'{}:").casefold() if isinstance(token, str) else ""
    return word if word in ("yes", "no") else None


class Citation(NamedTuple):
    """Where a reader answer is cited from (`cite`)."""

    at: int  # the index of the article sentence cited
    word_for_word: bool  # it holds every word of the answer (`ground`), shown before it; else
                         # the sentence is shown alone


def cite(answer: str, quote: str, sentences: Sequence[str], question: str = "") -> Citation:
    """The article sentence to cite for the model's `answer` and `quote`, and whether the
    answer is shown before it.

    - A bare yes or no to a yes/no question (as `parse_question` reads its kind: "so did they
      beat forecasts?" -> "Yes"; not "how many came?" -> "No") cites the
      quoted sentence, which must be an article sentence, shown alone: the sentence is the
      answer, in the article's words (a small model's yes or no is not shown on its own
      authority). A yes also needs each number the question names in that sentence ("were
      there 5000?" is not a yes from "3,000").
    - Otherwise the sentence is found by `ground`, and the answer is shown before it.
    - An explanation (LONG_ANSWER_WORDS or more words to find, for a why or a how) that no
      sentence holds word for word, because the model put it in its own words, cites the
      sentence holding the most of them (at least MOSTLY_HELD of them, every number among
      them) and is shown as that sentence alone: nothing the article does not say is shown.
    Only the second is `word_for_word`: with Qwen2.5-Coder-1.5B on 189 tune questions
    (chat_d*), these two widened 17 answers: the self-check let 10 through (8 right, none to
    an unanswerable question) and doubted 7, where the offline engine's answer was right 4
    times, so a doubt there keeps the offline answer (`Reader.improve`) where a doubt
    of a word-for-word answer declines. ReaderFailed as `ground` raises it.
    """
    quoted = _quoted_sentence(quote, sentences)
    yes_no = _YES_NO.fullmatch(answer.strip())
    if yes_no is not None and parse_question(question).kind == YESNO:
        asked = {w for w in _stems(question) if w.isdigit()}
        if yes_no.group(1).casefold() == "yes" and not asked <= set(_stems(sentences[quoted])):
            raise ReaderFailed("a yes to a number the sentence does not give", "number-mismatch")
        return Citation(quoted, word_for_word=False)
    try:
        return Citation(_holding(answer, quoted, sentences, question), word_for_word=True)
    except ReaderFailed as exc:
        if exc.outcome != "answer-not-in-article":
            raise
        held = _mostly_held(answer, quoted, sentences, question)
        if held is None:
            raise
        return Citation(held, word_for_word=False)


# A bare "yes" or "no" (a full stop or "!" after it aside).
_YES_NO = re.compile(r"(yes|no)\b[\W_]*", re.IGNORECASE)


def _mostly_held(answer: str, near: int, sentences: Sequence[str], question: str) -> int | None:
    """The sentence holding most of a long `answer`'s words (see `cite`), nearest to `near`
    on a tie; None when the answer is short or no sentence holds enough of it."""
    restated = {w for w in _stems(question) if not w.isdigit()}
    needed = {w for w in _stems(answer) if w not in restated}
    if len(needed) < LONG_ANSWER_WORDS:
        return None
    numbers = {w for w in needed if w.isdigit()}

    def share(i: int) -> float:
        stems = set(_stems(sentences[i]))
        return len(needed & stems) / len(needed) if numbers <= stems else 0.0

    best = max(sorted(range(len(sentences)), key=lambda i: (abs(i - near), i < near)),
               key=share)
    return best if share(best) >= MOSTLY_HELD else None


def _quoted_sentence(quote: str, sentences: Sequence[str]) -> int:
    """The index of the article sentence most like `quote` (a model's copy of it: a leading
    "[n]" sentence number, case, quote marks and spacing aside); ReaderFailed
    ("quote-not-found") when none is alike enough (QUOTE_MATCH_MIN)."""
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
        raise ReaderFailed(f"the quote is not in the article (best match {best_score:.0f})",
                           "quote-not-found")
    return best


def ground(answer: str, quote: str, sentences: Sequence[str], question: str = "") -> int:
    """The index of the article sentence that holds `answer`, found from `quote`.

    The quote is matched to the most alike sentence (`_quoted_sentence`). When that sentence
    does not hold the answer, the nearest one that does is cited instead (the one after before
    the one before): small models often read the answer right and quote another sentence (on
    58 tune questions with Qwen2.5-Coder-1.5B, 8 right answers were refused for quoting a
    sentence that did not say them, which the neighbouring sentences did not say either).
    "Holding" the answer: every word of it is in the sentence (words that only repeat
    `question` aside, numbers excepted), and every number in it keeps its own words there
    (see `_numbers_tied`). ReaderFailed when no sentence is alike enough (an invented quote),
    or no sentence holds the answer.
    """
    return _holding(answer, _quoted_sentence(quote, sentences), sentences, question)


def _holding(answer: str, best: int, sentences: Sequence[str], question: str) -> int:
    """`ground` from the quoted sentence's index `best` on: the nearest sentence holding
    `answer`; ReaderFailed when none does."""
    words = _stems(answer)
    if not words:
        raise ReaderFailed("the answer has no words to check")
    restated = {w for w in _stems(question) if not w.isdigit()}
    needed = [w for w in words if w not in restated]
    if not needed:
        raise ReaderFailed("the answer only repeats the question", "answer-not-in-article")
    failure = ReaderFailed(f"the answer is in no sentence of the article ({len(needed)} words "
                           f"to find)", "answer-not-in-article")
    for i in sorted(range(len(sentences)), key=lambda i: (abs(i - best), i < best)):
        stems = _stems(sentences[i])
        if any(w not in set(stems) for w in needed):
            continue
        # A word restating the question counts here when the sentence has it: "3 died" for
        # "how many died?" must still find "died" with the 3.
        if not _numbers_tied([w for w in words if w in stems or w not in restated], stems):
            failure = ReaderFailed("a number in the answer goes with other words in the "
                                   "sentence", "number-mismatch")
            continue
        return i
    raise failure


def _numbers_tied(answer: Sequence[str], sentence: Sequence[str]) -> bool:
    """Whether each number in `answer` (stems) keeps its words in `sentence` (stems).

    A number's words are those between it and the numbers either side of it. In the sentence,
    at least one place the number is said must have them all between its neighbouring numbers:
    "3 died" is not read from "3 were injured and 1 died".
    """
    def around(stems: Sequence[str], at: int) -> set[str]:
        start = at
        while start > 0 and not stems[start - 1].isdigit():
            start -= 1
        end = at + 1
        while end < len(stems) and not stems[end].isdigit():
            end += 1
        return set(stems[start:end])

    for at, word in enumerate(answer):
        if not word.isdigit():
            continue
        needed = around(answer, at)
        places = [i for i, w in enumerate(sentence) if w == word]
        if places and not any(needed <= around(sentence, i) for i in places):
            return False
    return True


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
