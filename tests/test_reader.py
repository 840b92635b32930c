"""qa.reader: an endpoint's answer is shown only when an article sentence backs it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from briefbot.articles import Article, Library
from briefbot.config import ReaderConfig, Secret
from briefbot.conversation import Conversation, Incoming
from briefbot.qa import Answer, QAIndex
from briefbot.qa.reader import (
    MAX_ARTICLE_CHARS,
    MAX_CONCURRENT_REQUESTS,
    OUTCOMES,
    Reader,
    ReaderFailed,
    cite,
    ground,
    parse_verdict,
    pick_sentences,
)
from fakes.fake_reader import (
    MODEL,
    FakeReader,
    Request,
    refused_url,
    says,
    verdict,
    weighed_verdict,
)

KEY = "sk-reader-test-key-0123456789abcdef"
CROSSING = ("The Harbour City council opened a new ferry line to the Kestrel Islands on Monday, "
            "cutting the crossing to 40 minutes.")
# Offline, this question finds nothing: the crossing time is said as "cutting the crossing to".
TRIP = "how long is the trip to the islands now?"
OFFLINE_DECLINE = "The article doesn't say."


def faithful(request: Request) -> str:
    """A model that answers from the article, copying the sentence the way small models do."""
    if "trip" in request.question:
        return says("40 minutes", "the Harbour City council opened a new ferry line to the "
                    "Kestrel Islands on Monday, cutting the crossing to 40 minutes 🌊")
    if "ferries" in request.question:
        return says("Nordvik Yards in Bergen", "The ferries were built by Nordvik Yards in "
                    "Bergen at a cost of 24 million euros.")
    return says(None)


@pytest.fixture
def library(content_dir: Path) -> Library:
    library = Library(content_dir)
    library.reload()
    return library


@pytest.fixture
async def endpoint() -> AsyncIterator[FakeReader]:
    async with FakeReader(faithful) as fake:
        yield fake


def reader_for(url: str, *, timeout: float = 5.0, key: str | None = None) -> Reader:
    return Reader(ReaderConfig(url=url, model=MODEL, timeout=timeout,
                               api_key=Secret(key) if key else None))


async def ask(library: Library, reader: Reader | None, question: str,
              incoming: Incoming | None = None) -> Answer:
    """What a person sees for `question` in a chat, with `reader` configured (or none)."""
    conversation = Conversation(library, QAIndex(), reader=reader)
    try:
        [reply] = await conversation.handle(
            incoming or Incoming(platform="console", chat_id="c1", user_id="u1", text=question))
    finally:
        if reader is not None:
            await reader.aclose()
    assert isinstance(reply, Answer)
    return reply


# --- what a person sees ----------------------------------------------------------------------


async def test_a_faithful_answer_is_shown_with_the_articles_own_sentence(
    library: Library, endpoint: FakeReader
) -> None:
    """The model's copy (lower-cased, emoji, no full stop) is replaced by the article's sentence."""
    assert (await ask(library, None, TRIP)).text.startswith(OFFLINE_DECLINE)
    answer = await ask(library, reader_for(endpoint.url), TRIP)
    assert answer.found and answer.origin == "reader"
    assert answer.text == f"40 minutes. “{CROSSING}”"
    assert answer.source == CROSSING and answer.article_id == "harbour"
    assert answer.headline is not None  # the conversation still names the article


async def test_the_reader_answer_replaces_the_offline_one_when_both_found(
    library: Library, endpoint: FakeReader
) -> None:
    answer = await ask(library, reader_for(endpoint.url), "who built the ferries?")
    assert answer.origin == "reader"
    assert answer.text.startswith("Nordvik Yards in Bergen. “The ferries were built by")


def hallucinating_quote(request: Request) -> str:
    return says("40 minutes", "The new ferries cross to the islands in 40 minutes, officials said.")


def answer_not_in_quote(request: Request) -> str:
    return says("25 minutes", CROSSING)


def answer_from_another_sentence(request: Request) -> str:
    return says("40 minutes", "Critics warned that fares of 6 euros a trip are too high for "
                "island families.")


async def test_a_right_answer_with_the_wrong_sentence_quoted_cites_the_sentence_that_says_it(
    library: Library
) -> None:
    async with FakeReader(answer_from_another_sentence) as fake:
        answer = await ask(library, reader_for(fake.url), TRIP)
    assert answer.origin == "reader"
    assert answer.text == f"40 minutes. “{CROSSING}”"


def server_error(request: Request) -> web.Response:
    return web.json_response({"error": {"message": "model crashed"}}, status=500)


def not_json(request: Request) -> str:
    return "The crossing now takes 40 minutes, according to the article."


def not_a_completion(request: Request) -> web.Response:
    return web.Response(text="<html>gateway</html>", content_type="text/html")


def answer_without_quote(request: Request) -> str:
    return json.dumps({"answer": "40 minutes"})


def says_null(request: Request) -> str:
    return says(None)


@pytest.mark.parametrize("script", [
    hallucinating_quote, answer_not_in_quote, server_error, not_json, not_a_completion, answer_without_quote, says_null,
])
async def test_an_unbacked_or_broken_reply_shows_the_offline_decline(
    library: Library, script: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="briefbot.qa.reader")
    async with FakeReader(script) as fake:  # type: ignore[arg-type]
        answer = await ask(library, reader_for(fake.url), TRIP)
        assert len(fake.requests) == 1
    assert not answer.found and answer.origin == "offline"
    assert answer.text.startswith(OFFLINE_DECLINE)
    assert "the offline answer stands" in caplog.text


async def test_an_unbacked_reply_leaves_the_offline_answer_in_place(library: Library) -> None:
    async with FakeReader(answer_not_in_quote) as fake:
        with_reader = await ask(library, reader_for(fake.url), "who built the ferries?")
    assert with_reader == await ask(library, None, "who built the ferries?")
    assert with_reader.text.startswith("Nordvik Yards. “The ferries were built")


async def test_prose_around_the_json_object_is_tolerated(library: Library) -> None:
    def chatty(request: Request) -> str:
        return ("Sure! Here is the answer:\n```json\n"
                + says("40 minutes", CROSSING) + "\n```\nLet me know if you need more.")

    async with FakeReader(chatty) as fake:
        answer = await ask(library, reader_for(fake.url), TRIP)
    assert answer.origin == "reader" and answer.text == f"40 minutes. “{CROSSING}”"


async def test_a_reply_past_the_timeout_shows_the_offline_answer(library: Library) -> None:
    async with FakeReader(lambda request: None) as silent:  # never answers
        answer = await ask(library, reader_for(silent.url, timeout=0.2), TRIP)
    assert not answer.found and answer.text.startswith(OFFLINE_DECLINE)


async def test_an_endpoint_that_is_down_shows_the_offline_answer_and_warns_once(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    reader = reader_for(refused_url())
    conversation = Conversation(library, QAIndex(), reader=reader)
    replies = []
    for question in (TRIP, "who built the ferries?"):
        replies += await conversation.handle(Incoming("console", "c1", "u1", question))
    await reader.aclose()
    assert [r.origin for r in replies if isinstance(r, Answer)] == ["offline", "offline"]
    assert replies[1].text.startswith("Nordvik Yards.")  # type: ignore[union-attr]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot reach qa.reader.url" in warnings[0].getMessage()


async def test_an_editors_answer_is_never_sent_to_the_reader(
    library: Library, endpoint: FakeReader
) -> None:
    answer = await ask(library, reader_for(endpoint.url), "When is the market open?")
    assert answer.text == "Saturdays from 8 a.m. to 1 p.m." and answer.origin == "offline"
    assert endpoint.requests == []


async def test_a_question_no_article_fits_is_not_sent_to_the_reader(
    library: Library, endpoint: FakeReader
) -> None:
    answer = await ask(library, reader_for(endpoint.url), "how many troops were there?")
    assert not answer.found and endpoint.requests == []


# --- the request ------------------------------------------------------------------------------


async def test_the_request_asks_for_a_grounded_json_answer(
    library: Library, endpoint: FakeReader
) -> None:
    await ask(library, reader_for(endpoint.url, key=KEY), TRIP)
    [request] = endpoint.requests
    body = request.body
    assert body["model"] == MODEL and body["temperature"] == 0
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert set(schema["required"]) == {"answer", "quote"}
    system, user = body["messages"]
    assert system["role"] == "system" and "copied exactly" in system["content"]
    assert "[1] The Harbour City council opened" in user["content"]
    assert "[3] The ferries were built by Nordvik Yards" in user["content"]
    assert user["content"].endswith(f"Question: {TRIP}")
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def formats_of(fake: FakeReader) -> list[str | None]:
    return [(r.body.get("response_format") or {}).get("type") for r in fake.requests]


async def test_an_endpoint_without_json_schema_gets_a_json_object_request_and_answers(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    """llama-cpp-python's server answers a json_schema response_format with HTTP 500."""

    def llama_cpp_python(request: Request) -> str | web.Response:
        if request.body.get("response_format", {}).get("type") == "json_schema":
            return web.Response(status=500, text='{"error": "unsupported response_format"}')
        return faithful(request)

    async with FakeReader(llama_cpp_python) as fake:
        reader = reader_for(fake.url)
        conversation = Conversation(library, QAIndex(), reader=reader)
        replies = []
        for question in (TRIP, "who built the ferries?"):
            replies += await conversation.handle(Incoming("console", "c1", "u1", question))
        await reader.aclose()
    assert [r.origin for r in replies if isinstance(r, Answer)] == ["reader", "reader"]
    # Before: every request failed with the 500 and only a debug line said so.
    assert formats_of(fake) == ["json_schema", "json_object", "json_object"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "refuses response_format json_schema" in warnings[0]


async def test_an_endpoint_that_takes_no_response_format_is_asked_by_the_prompt_alone(
    library: Library,
) -> None:
    def plain_only(request: Request) -> str | web.Response:
        if "response_format" in request.body:
            return web.Response(status=400, text="unknown field response_format")
        return f"Sure! {faithful(request)}"

    async with FakeReader(plain_only) as fake:
        answer = await ask(library, reader_for(fake.url), TRIP)
    assert answer.origin == "reader" and answer.text.startswith("40 minutes.")
    assert formats_of(fake) == ["json_schema", "json_object", None]


async def test_a_failing_endpoint_is_not_taken_for_one_without_structured_output(
    library: Library,
) -> None:
    def failing(request: Request) -> web.Response:  # a crash, whatever is asked
        return web.json_response({"error": {"message": "out of memory"}}, status=500)

    async with FakeReader(failing) as fake:
        for _ in range(2):
            answer = await ask(library, reader_for(fake.url), TRIP)
            assert answer.origin == "offline" and not answer.found
    # One request a question: an error that does not name the format is not the format's.
    assert formats_of(fake) == ["json_schema", "json_schema"]


async def test_without_a_key_no_authorization_is_sent(
    library: Library, endpoint: FakeReader
) -> None:
    await ask(library, reader_for(endpoint.url), TRIP)
    assert "Authorization" not in endpoint.requests[0].headers


async def test_the_api_key_never_reaches_a_log_line_or_repr(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for url in (refused_url(),):
        await ask(library, reader_for(url, key=KEY), TRIP)
    async with FakeReader(server_error) as fake:
        reader = reader_for(fake.url, key=KEY)
        await ask(library, reader, TRIP)
    assert KEY not in caplog.text
    assert KEY not in repr(reader) and KEY not in repr(reader.config)


async def test_no_more_than_the_cap_of_requests_run_at_once(
    library: Library, endpoint: FakeReader
) -> None:
    endpoint.hold = asyncio.Event()
    reader = reader_for(endpoint.url)
    index = QAIndex()
    index.update(library.articles)
    article = library.find("harbour")
    assert article is not None
    offline = index.ask(TRIP, article_id="harbour")
    asked = [asyncio.create_task(reader.improve(offline, article)) for _ in range(10)]
    await endpoint.wait_in_flight(MAX_CONCURRENT_REQUESTS)
    await asyncio.sleep(0.3)  # room for any request past the cap to arrive
    assert endpoint.in_flight == MAX_CONCURRENT_REQUESTS
    endpoint.hold.set()
    answers = await asyncio.gather(*asked)
    await reader.aclose()
    assert {a.text for a in answers} == {f"40 minutes. “{CROSSING}”"}
    assert len(endpoint.requests) == 10 and endpoint.most_in_flight == MAX_CONCURRENT_REQUESTS


async def test_the_person_is_shown_the_bot_is_working_before_the_answer(
    library: Library, endpoint: FakeReader
) -> None:
    shown: list[int] = []

    async def working() -> None:
        shown.append(len(endpoint.requests))

    incoming = Incoming("console", "c1", "u1", TRIP, working=working)
    answer = await ask(library, reader_for(endpoint.url), TRIP, incoming)
    assert shown == [0] and answer.origin == "reader"


async def test_a_failing_working_sign_does_not_cost_the_answer(
    library: Library, endpoint: FakeReader
) -> None:
    async def broken() -> None:
        raise RuntimeError("the platform refused the chat action")

    incoming = Incoming("console", "c1", "u1", TRIP, working=broken)
    assert (await ask(library, reader_for(endpoint.url), TRIP, incoming)).origin == "reader"


# --- checking quotes and answers --------------------------------------------------------------

SENTENCES = [
    CROSSING,
    "Mayor Elena Vos said the line would carry about 3,000 passengers a day.",
    "Delegates agreed to a fund of $40 billion for coastal cities.",
    "Inflation rose to 3.2 per cent in March, NATO’s figures show.",
]


@pytest.mark.parametrize("answer, quote, index", [
    ("about 3000 passengers", "Mayor Elena Vos said the line would carry about 3,000 passengers "
     "a day", 1),
    ("Elena Vos", "mayor elena vos said the line would carry about 3,000 passengers per day.", 1),
    ("40 billion dollars", "Delegates agreed to a fund of $40 billion for coastal cities.", 2),
    ("3.2%", "Inflation rose to 3.2 percent in March, NATO's figures show.", 3),
    ("NATO", "[4] Inflation rose to 3.2 per cent in March, NATO’s figures show.", 3),
    ("forty minutes", "cutting the crossing to 40 minutes", 0),
])
def test_quotes_copied_imperfectly_still_find_their_sentence(
    answer: str, quote: str, index: int
) -> None:
    assert ground(answer, quote, SENTENCES) == index


def test_an_answer_quoted_from_another_sentence_is_cited_from_the_one_that_says_it() -> None:
    """Small models often read the answer right and quote another sentence."""
    assert ground("Mayor Elena Vos", SENTENCES[2], SENTENCES) == 1
    assert ground("Mayor Elena Vos", SENTENCES[0], SENTENCES) == 1
    assert ground("Mayor Elena Vos", SENTENCES[3], SENTENCES) == 1
    assert ground("about 3000 passengers", SENTENCES[1], SENTENCES) == 1  # its own first


def test_of_several_sentences_holding_the_answer_the_nearest_to_the_quote_is_cited() -> None:
    sentences = ["The mayor spoke first.", "Vos opened the line.", "Traffic was light.",
                 "Crowds cheered.", "Later, Vos cut a ribbon.", "Rain fell."]
    assert ground("Vos", sentences[3], sentences) == 4
    assert ground("Vos", sentences[2], sentences) == 1
    assert ground("Vos", sentences[0], sentences) == 1


def test_words_that_only_repeat_the_question_need_not_be_in_the_sentence() -> None:
    said = "the mayor thinks about 3,000 passengers a day"
    with pytest.raises(ReaderFailed, match="in no sentence"):
        ground(said, SENTENCES[1], SENTENCES)
    assert ground(said, SENTENCES[1], SENTENCES, "what does the mayor think?") == 1
    with pytest.raises(ReaderFailed, match="only repeats the question"):
        ground("the mayor", SENTENCES[1], SENTENCES, "who is the mayor?")
    with pytest.raises(ReaderFailed, match="in no sentence"):  # a number must be there
        ground("5000 passengers", SENTENCES[1], SENTENCES, "were there 5000 passengers?")


@pytest.mark.parametrize("answer, quote, why", [
    ("about 3000 passengers", "The line will carry 3,000 people daily, the mayor said.",
     "not in the article"),
    ("5,000 passengers", SENTENCES[1], "in no sentence"),
    ("Mayor Anna Vos", SENTENCES[3], "in no sentence"),
    ("40 minutes", "40 minutes", "not in the article"),  # too short to stand for a sentence
    ("the", SENTENCES[1], "no words"),
])
def test_invented_quotes_and_unbacked_answers_are_refused(
    answer: str, quote: str, why: str
) -> None:
    with pytest.raises(ReaderFailed, match=why):
        ground(answer, quote, SENTENCES)


def test_a_bare_yes_to_a_yes_no_question_cites_the_quoted_sentence() -> None:
    """ "did they beat forecasts?" -> "Yes": the sentence is the evidence, and the answer."""
    question = "so will the line carry passengers every day"
    assert cite("Yes", SENTENCES[1], SENTENCES, question) == (1, False)
    assert cite("no.", SENTENCES[2], SENTENCES, "was the fund under 10 billion?") == (2, False)
    # an answer the sentence holds word for word is cited as before, and shown
    assert cite("Elena Vos", SENTENCES[1], SENTENCES, "who spoke?") == (1, True)


@pytest.mark.parametrize("answer, quote, question, why", [
    # a yes needs the question's numbers in the sentence
    ("Yes", SENTENCES[1], "were there 5000 passengers a day?", "number"),
    # a question for a fact has no yes/no answer, however it opens
    ("Yes", SENTENCES[1], "who spoke about the passengers?", "in no sentence"),
    ("No", SENTENCES[1], "did they say how many passengers?", "in no sentence"),
    # the quote must still be an article sentence
    ("Yes", "The mayor promised free rides for everyone.", "is the ride free?",
     "not in the article"),
])
def test_a_yes_or_no_that_the_sentence_cannot_back_is_refused(
    answer: str, quote: str, question: str, why: str
) -> None:
    with pytest.raises(ReaderFailed, match=why):
        cite(answer, quote, SENTENCES, question)


def test_an_explanation_in_the_models_own_words_is_shown_as_the_articles_sentence() -> None:
    """A why answered in other words than the article's: the sentence holding most of them
    is cited, alone; the model's wording, with words the article lacks, is not shown."""
    sentences = ["The plant closed for two weeks.",
                 "Sales fell after a recall of crackers over possible salmonella contamination.",
                 "The recall cost the company about $95 million."]
    said = "Because of a recall of crackers over salmonella contamination."
    with pytest.raises(ReaderFailed, match="in no sentence"):
        ground(said, sentences[2], sentences, "why were sales so bad")
    assert cite(said, sentences[2], sentences, "why were sales so bad") == (1, False)
    # short answers still need every word: "dropped" is not "fell"
    with pytest.raises(ReaderFailed, match="in no sentence"):
        cite("sales dropped", sentences[2], sentences, "what happened?")
    # an explanation with a number the sentence lacks is refused
    with pytest.raises(ReaderFailed, match="in no sentence"):
        cite("Sales fell 40% after a recall of crackers over possible salmonella fears",
             sentences[2], sentences, "why were sales so bad")


def test_a_long_article_is_clipped_keeping_the_sentences_the_question_needs() -> None:
    filler = [f"Paragraph {n} talks about the weather in the old town and nothing else."
              for n in range(200)]
    key = "The new bridge will cost 200 million euros and open in 2029."
    sentences = [*filler[:150], key, *filler[150:]]
    article = Article(id="long", title="Long", author=None, date=None,
                      paragraphs=tuple(sentences))
    picked = pick_sentences("how much will the bridge cost?", article.sentences, None)
    assert sentences.index(key) in picked
    assert picked == sorted(picked)
    assert sum(len(sentences[i]) for i in picked) <= MAX_ARTICLE_CHARS


# --- the self-check and stricter grounding ---------------------------------------------------

CRASH = Article(id="crash", title="Bus crash on the coast road", author=None, date=None,
                paragraphs=(
    "A bus left the coast road near Vell on Sunday night.",
    "Three people were injured and one died, police said.",
    "The driver, 54, was not hurt.",
))
DIED = "how many people died in the crash?"


def wrong_reading(request: Request) -> str:
    """A real sentence read wrongly: the number of the injured given as the dead."""
    return says("3 died", "Three people were injured and one died, police said.")


def right_reading(request: Request) -> str:
    return says("one", "Three people were injured and one died, police said.")


async def improve(fake: FakeReader, question: str, *, seconds: float = 5.0,
                  article: Article = CRASH) -> tuple[Answer, str]:
    """The reader's answer and its outcome for `question` about `article` (offline: declined)."""
    offline = Answer(question=question, found=False, text=OFFLINE_DECLINE,
                     article_id=article.id)
    reader = reader_for(fake.url, timeout=seconds)
    try:
        answer, outcome = await reader.improve_traced(offline, article)
    finally:
        await reader.aclose()
    assert outcome in OUTCOMES
    assert (answer is offline) == (outcome != "answered")
    return answer, outcome


async def test_a_wrong_reading_of_a_real_sentence_is_refused_even_when_the_check_agrees() -> None:
    """ "3 died" from "3 injured and 1 died": every word is in the sentence, the number is not
    the dead's. Refused before the self-check is asked (which says yes to anything here)."""
    async with FakeReader(wrong_reading) as fake:
        answer, outcome = await improve(fake, DIED)
        assert fake.checks == []
    assert outcome == "number-mismatch" and not answer.found
    async with FakeReader(right_reading) as fake:
        answer, outcome = await improve(fake, DIED)
    assert outcome == "answered" and answer.text.startswith("one. “Three people were injured")


async def test_the_self_check_vetoes_an_answer_its_sentence_does_not_give() -> None:
    """A grounded-looking answer to another question: the driver's age as the toll."""

    def ages_as_toll(request: Request) -> str:
        return says("54", "The driver, 54, was not hurt.")

    def checker(request: Request) -> str:  # a model that reads the sentence right
        return verdict(request.line("Answer") != "54")

    async with FakeReader(ages_as_toll, check=checker) as fake:
        answer, outcome = await improve(fake, DIED)
    assert outcome == "vetoed" and not answer.found
    [check] = fake.checks
    assert check.line("Sentence") == "The driver, 54, was not hurt."
    assert check.line("Question") == DIED and check.line("Answer") == "54"
    assert check.body["response_format"]["json_schema"]["schema"]["required"] == ["verdict"]
    # A fresh conversation: asked as a follow-up to its own answer, a small model says yes.
    assert len(check.body["messages"]) == 2 and "Ibarra" not in check.user_message
    assert "The bus left" not in check.user_message and "A bus left" not in check.user_message
    async with FakeReader(right_reading, check=checker) as fake:
        assert (await improve(fake, DIED))[1] == "answered"


async def test_an_answer_the_self_check_doubts_is_declined_not_replaced_by_the_offline_one(
    library: Library
) -> None:
    """A vetoed reader answer marks a near miss: the offline engine's answer to it (here a
    real one, found by the rules) is not shown either."""
    question = "who built the ferries?"
    offline = await ask(library, None, question)
    assert offline.found and "Nordvik Yards" in offline.text
    async with FakeReader(faithful, check=lambda request: verdict(False)) as fake:
        answer = await ask(library, reader_for(fake.url), question)
    assert not answer.found and answer.text == OFFLINE_DECLINE
    assert answer.article_id == "harbour" and answer.origin == "offline"


async def test_a_yes_or_no_question_is_answered_with_the_sentence_that_says_it() -> None:
    """ "was the driver hurt?" -> "No": no article word says "No"; the sentence itself is the
    answer, shown alone (the self-check still has to agree with the model's no)."""

    def answers_no(request: Request) -> str:
        return says("No", "the driver, 54, was not hurt")

    async with FakeReader(answers_no) as fake:
        answer, outcome = await improve(fake, "so was the driver hurt or not")
    assert outcome == "answered"
    assert answer.text == "“The driver, 54, was not hurt.”"
    assert fake.checks[0].line("Answer") == "No"


async def test_a_doubted_yes_or_no_keeps_the_offline_answer_instead_of_declining() -> None:
    """The self-check's doubt about a bare yes or an explanation is about how it was read,
    not a sign of a near miss: the offline engine's answer is shown, not a decline."""

    def answers_yes(request: Request) -> str:
        return says("Yes", "Three people were injured and one died, police said.")

    question = "did anyone die in the crash?"
    offline = Answer(question=question, found=True, article_id=CRASH.id,
                     text="one. “Three people were injured and one died, police said.”",
                     source="Three people were injured and one died, police said.")
    async with FakeReader(answers_yes, check=lambda request: verdict(False)) as fake:
        reader = reader_for(fake.url)
        try:
            answer, outcome = await reader.improve_traced(offline, CRASH)
        finally:
            await reader.aclose()
    assert outcome == "doubted" and answer is offline


@pytest.mark.parametrize("p_yes, shown", [(0.55, False), (0.6, False), (0.8, True),
                                          (0.99, True)])
async def test_a_hesitant_yes_from_the_self_check_vetoes_the_answer(p_yes: float,
                                                                    shown: bool) -> None:
    """The word is yes, but the model's probability of yes over no is what counts."""
    async with FakeReader(right_reading, check=lambda request: weighed_verdict(p_yes)) as fake:
        answer, outcome = await improve(fake, DIED)
    assert fake.checks[0].body["logprobs"] is True
    assert outcome == ("answered" if shown else "vetoed") and answer.found is shown


async def test_an_endpoint_refusing_logprobs_is_asked_without_them_and_its_yes_counts(
    caplog: pytest.LogCaptureFixture
) -> None:
    def no_logprobs(request: Request) -> str | web.Response:
        if "logprobs" in request.body:
            return web.json_response({"error": {"message": "logprobs is not supported"}},
                                     status=400)
        return verdict(True)

    caplog.set_level(logging.WARNING, logger="briefbot.qa.reader")
    offline = Answer(question=DIED, found=False, text=OFFLINE_DECLINE, article_id=CRASH.id)
    async with FakeReader(right_reading, check=no_logprobs) as fake:
        reader = reader_for(fake.url)
        try:
            outcomes = [(await reader.improve_traced(offline, CRASH))[1] for _ in range(2)]
        finally:
            await reader.aclose()
    assert outcomes == ["answered", "answered"]
    assert ["logprobs" in check.body for check in fake.checks] == [True, False, False]
    assert caplog.text.count("refuses logprobs") == 1


async def test_a_sentence_leaning_on_the_one_before_is_checked_with_it() -> None:
    def driver(request: Request) -> str:
        return says("54", "He was 54.")

    article = Article(id="d", title="Driver", author=None, date=None,
                      paragraphs=("The bus was driven by Marco Bell.", "He was 54."))
    async with FakeReader(driver) as fake:
        assert (await improve(fake, "how old was the driver?", article=article))[1] == "answered"
    assert "context only): The bus was driven by Marco Bell." in fake.checks[0].user_message


@pytest.mark.parametrize("check", [
    lambda request: verdict(False),
    lambda request: "I think the answer could be right.",
    lambda request: json.dumps({"verdict": "maybe"}),
    lambda request: web.json_response({"error": {"message": "overloaded"}}, status=503),
    lambda request: None,  # never answers: the answer's timeout runs out
])
async def test_anything_but_a_clear_yes_from_the_self_check_keeps_the_offline_answer(
    check: object,
) -> None:
    async with FakeReader(right_reading, check=check) as fake:  # type: ignore[arg-type]
        answer, outcome = await improve(fake, DIED, seconds=0.5)
    assert outcome in {"vetoed", "http-error", "timeout"} and not answer.found
    assert len(fake.requests) == 1 and len(fake.checks) == 1


@pytest.mark.parametrize("content, expected", [
    ('{"verdict": "yes"}', True), ('{"verdict": "no"}', False), ("Yes.", True),
    ("no, it does not", False), ('{"answer": true}', True), ("", None), ("yesterday", None),
    ('{"verdict": "yes", "answer": "no"}', None),
])
def test_the_self_checks_verdict_reads_json_or_a_first_word(
    content: str, expected: bool | None
) -> None:
    assert parse_verdict(content) is expected


@pytest.mark.parametrize("answer, ok", [
    ("1 died", True), ("one death", False), ("3 injured", True), ("3 people injured", True),
    ("3 died", False), ("3 people died", False), ("3", True),
])
def test_a_number_in_the_answer_must_keep_its_own_words(answer: str, ok: bool) -> None:
    sentences = ["Three people were injured and one died, police said."]
    if ok:
        assert ground(answer, sentences[0], sentences) == 0
    else:
        with pytest.raises(ReaderFailed, match=r"number|in no sentence"):
            ground(answer, sentences[0], sentences)


async def test_both_calls_cap_what_the_model_may_write(endpoint: FakeReader,
                                                       library: Library) -> None:
    await ask(library, reader_for(endpoint.url), TRIP)
    [request], [check] = endpoint.requests, endpoint.checks
    assert 0 < check.body["max_tokens"] < request.body["max_tokens"] <= 500


# --- the command line -------------------------------------------------------------------------


async def briefbot(*args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["BRIEFBOT_READER_API_KEY"] = KEY
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "briefbot", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode or 0, out.decode(), err.decode()


def reader_config(content_dir: Path, url: str) -> Path:
    config = content_dir.parent / "config.yaml"
    config.write_text(f"content_dir: content\ndatabase: data.sqlite3\nqa:\n  reader:\n"
                      f"    url: {url}\n    model: {MODEL}\n    timeout: 5\n", encoding="utf-8")
    return config


async def test_the_console_chat_answers_through_the_configured_reader(
    content_dir: Path, endpoint: FakeReader
) -> None:
    config = reader_config(content_dir, endpoint.url)
    code, out, err = await briefbot("--config", str(config), "chat", stdin=TRIP + "\n")
    assert code == 0, err
    assert "40 minutes" in out and "cutting the crossing to 40 minutes" in out
    assert len(endpoint.requests) == 1


async def test_ask_json_uses_the_configured_reader_and_says_so(
    content_dir: Path, endpoint: FakeReader
) -> None:
    config = reader_config(content_dir, endpoint.url)
    code, out, err = await briefbot("--config", str(config), "--log-level", "debug", "ask",
                                    "--json", TRIP, "how many troops were there?")
    assert code == 0, err
    trip, troops = (json.loads(line) for line in out.splitlines())
    assert trip["engine"] == "reader" and trip["found"] is True and trip["reader"] == "answered"
    assert troops["reader"] == "not-asked"
    assert trip["answer"] == f"40 minutes. “{CROSSING}”" and trip["source"] == CROSSING
    assert troops["engine"] == "offline" and troops["found"] is False
    assert endpoint.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in err

    code, out, err = await briefbot("--config", str(config), "check")
    assert code == 0, err
    assert f"qa.reader: {MODEL} at {endpoint.url}, timeout 5 s" in out
    assert "BRIEFBOT_READER_API_KEY set" in out and KEY not in out
