"""Questions about small made-up articles: cited answers, honest refusals, routing, hostile input."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest

from briefbot.articles import Article, CuratedQA
from briefbot.qa import MAX_ANSWER_CHARS, Answer, QAIndex, QATable
from briefbot.qa import index as index_module
from briefbot.qa.questions import Question

FERRY = Article(
    id="ferry-order",
    title="FERRY OPERATOR ORDERS THREE ELECTRIC BOATS 🚢",
    author="Priya Natarajan",
    date=dt.date(2026, 5, 4),
    paragraphs=(
        "Bluewater Ferries has ordered three battery-powered ferries from the shipyard Kessel "
        "Marine for 48 million dollars, the company said on Friday ⚡.",
        "The boats will be built in Gdynia and should enter service on the Tollan Sound route "
        "in 2028.",
        "Chief executive Marta Oyelowo said the company wanted to cut fuel costs because diesel "
        "prices had doubled since 2022.",
        "\u201cOur passengers have asked for cleaner crossings for years, and now we can deliver "
        "them,\u201d Oyelowo told reporters at the Pier 9 terminal.",
        "About 2,400 commuters use the route every day.",
        "Dr. Lewin Achterberg, a marine engineer at the University of Tollan, warned that "
        "charging points at both ends would need a new power line.",
    ),
    digest="ferry-1",
)

MUSEUM = Article(
    id="museum-reopens",
    title="City museum reopens after flood repairs 🏛️",
    author="Tomas Berglund",
    date=dt.date(2026, 6, 1),
    paragraphs=(
        "The Varden City Museum will reopen on Saturday, eight months after a burst water main "
        "flooded its basement galleries.",
        "Curator Hanne Vos said restoring the damaged paintings cost about 3.2 million euros, "
        "most of it paid by insurers.",
        "Visitors will enter through a new glass entrance on Ostrava Street while the old steps "
        "are rebuilt.",
    ),
    qa=(CuratedQA(("Is entry free?", "how much are tickets"), "Entry is free until July 🎟️"),),
    digest="museum-1",
)


@pytest.fixture(scope="module")
def ferry() -> QATable:
    return QATable(FERRY)


@pytest.fixture(scope="module")
def index() -> QAIndex:
    qa = QAIndex()
    qa.update([FERRY, MUSEUM])
    return qa


def test_who_question_names_the_person_and_cites_the_sentence(ferry: QATable) -> None:
    answer = ferry.answer("who is the chief executive?")
    assert answer.found
    assert answer.fact is not None and "Marta Oyelowo" in answer.fact
    assert answer.source is not None and "Chief executive Marta Oyelowo" in answer.source
    assert answer.text.startswith(answer.fact)


def test_who_is_a_named_person_gives_their_description(ferry: QATable) -> None:
    answer = ferry.answer("who is Dr. Achterberg?")
    assert answer.found
    assert "marine engineer" in answer.text


def test_where_question_gives_the_place(ferry: QATable) -> None:
    answer = ferry.answer("where will the boats be built?")
    assert answer.found
    assert answer.fact == "Gdynia"
    assert answer.text.startswith("Gdynia. “The boats will be built in Gdynia")


def test_when_question_gives_the_year(ferry: QATable) -> None:
    answer = ferry.answer("when will they enter service")
    assert answer.found
    assert answer.fact == "2028"


def test_how_much_question_gives_the_money(ferry: QATable) -> None:
    answer = ferry.answer("how much did the order cost? 💰")
    assert answer.found
    assert answer.fact == "48 million dollars"


def test_how_many_question_gives_the_count(ferry: QATable) -> None:
    answer = ferry.answer("how many commuters use the route")
    assert answer.found
    assert answer.fact is not None and "2,400" in answer.fact


def test_why_question_cites_the_cause(ferry: QATable) -> None:
    answer = ferry.answer("why did the company want to cut costs?")
    assert answer.found
    assert "diesel prices had doubled" in answer.text


def test_quote_question_cites_what_the_person_said(ferry: QATable) -> None:
    answer = ferry.answer("what did oyelowo say?")
    assert answer.found
    assert answer.source is not None and "cleaner crossings" in answer.source


def test_typos_and_shorthand_still_find_the_answer(ferry: QATable) -> None:
    assert ferry.answer("wen will the boats enter servce").fact == "2028"
    assert "Oyelowo" in (ferry.answer("who's the cheif executive").fact or "")


def test_a_chat_lead_in_or_trailing_again_is_not_what_the_question_asks_about(
        ferry: QATable) -> None:
    # "wait" and "again" are nowhere in the article: as topic words they made it "doesn't say"
    assert "Oyelowo" in (ferry.answer("wait who's the chief executive").fact or "")
    assert "Oyelowo" in (ferry.answer("ok so who is the chief executive again").fact or "")


def test_emoji_are_stripped_from_the_cited_sentence(ferry: QATable) -> None:
    answer = ferry.answer("how much did the order cost")
    assert "⚡" not in answer.text
    assert answer.source is not None and "⚡" not in answer.source


def test_author_and_publication_date_come_from_the_byline(ferry: QATable) -> None:
    assert "Priya Natarajan" in ferry.answer("who wrote this? ✍️").text
    assert "May 4, 2026" in ferry.answer("when was this article published").text


@pytest.mark.parametrize(
    "question",
    [
        "how fast are the boats?",
        "who is the mayor of tollan?",
        "what did the union say about it?",
        "how much does a ticket cost?",
    ],
)
def test_unanswerable_question_says_so_with_suggestions(ferry: QATable, question: str) -> None:
    answer = ferry.answer(question)
    assert not answer.found
    assert answer.source is None
    assert answer.text.startswith("The article doesn't say.")
    assert 2 <= len(answer.suggestions) <= 3
    assert all(s in answer.text for s in answer.suggestions)


def test_suggested_questions_can_be_answered(ferry: QATable) -> None:
    for suggestion in ferry.answer("how fast are the boats?").suggestions:
        assert ferry.answer(suggestion).found, suggestion


def test_suggestions_name_what_they_ask_about(ferry: QATable) -> None:
    """A suggestion names a person or thing from the article, never a bare "How much?"."""
    suggestions = ferry.answer("how fast are the boats?").suggestions
    assert 2 <= len(suggestions) <= 3
    assert "Who is Marta Oyelowo?" in suggestions
    for suggestion in suggestions:
        assert len(suggestion.split()) >= 3, suggestion
        assert not suggestion.startswith(("What happened in", "When did it")), suggestion


def test_a_question_using_a_synonym_or_irregular_verb_finds_the_sentence(ferry: QATable) -> None:
    assert ferry.answer("who's the ceo?").fact == "Marta Oyelowo"
    assert ferry.answer("how much did bluewater pay for the boats?").fact == "48 million dollars"


def test_a_missing_noun_means_the_article_does_not_say(ferry: QATable) -> None:
    assert not ferry.answer("how many jobs will the boats create?").found
    assert not ferry.answer("how much do the boats weigh?").found


def test_asking_about_the_opposite_of_what_the_article_says_is_declined() -> None:
    table = QATable(Article(id="sale", title="SALE", author=None, date=None, digest="s-1",
                            paragraphs=("Pre-orders open on Friday on the company's website.",)))
    assert table.answer("when do pre-orders open?").fact == "Friday"
    assert not table.answer("when do pre-orders close?").found


def test_answer_text_never_exceeds_300_characters() -> None:
    long_sentence = "The council approved the plan in Lisbon " + "after a very long debate " * 30
    table = QATable(Article(id="long", title="Plan approved", author=None, date=None,
                            paragraphs=(long_sentence + ".",)))
    answer = table.answer("where was the plan approved?")
    assert answer.found
    assert len(answer.text) <= MAX_ANSWER_CHARS
    assert answer.text.endswith("…”")


def test_a_long_cited_sentence_is_quoted_as_shortened_in_the_text() -> None:
    """The quote field is exactly what the text shows, so chat apps can quote it as a block."""
    long_sentence = ("The harbour board said on Monday that the new breakwater, which took "
                     + "many long and difficult years of planning and " * 6
                     + "was finally finished in 2027 at the northern end of the bay.")
    table = QATable(Article(id="breakwater", title="BREAKWATER DONE", author="A", date=None,
                            paragraphs=(long_sentence,), digest="bw-1"))
    answer = table.answer("when was the breakwater finished?")
    assert answer.found and answer.quote is not None and answer.fact == "2027"
    assert answer.quote != answer.source and "…" in answer.quote
    assert answer.text == f"2027. “{answer.quote}”"
    assert len(answer.text) <= MAX_ANSWER_CHARS


def test_curated_entry_wins_over_automatic_answer(index: QAIndex) -> None:
    answer = index.ask("how much are the tickets?", article_id="museum-reopens")
    assert answer.found
    assert answer.text.startswith("Entry is free until July")


def test_question_goes_to_the_article_it_is_about(index: QAIndex) -> None:
    answer = index.ask("when does the museum reopen?")
    assert answer.article_id == "museum-reopens"
    assert answer.fact == "Saturday"
    assert index.ask("who is the curator").fact == "Curator Hanne Vos"


def test_pinned_article_is_honoured_even_when_another_fits(index: QAIndex) -> None:
    answer = index.ask("when does the museum reopen?", article_id="ferry-order")
    assert answer.article_id == "ferry-order"
    assert not answer.found


def test_follow_up_without_topic_goes_to_the_last_briefed_article(index: QAIndex) -> None:
    assert index.ask("how much?", last_briefed="museum-reopens").fact == "3.2 million euros"
    assert index.ask("how much?", last_briefed="ferry-order").fact == "48 million dollars"


def test_question_about_another_article_leaves_the_last_briefed_one(index: QAIndex) -> None:
    answer = index.ask("where will the ferries be built?", last_briefed="museum-reopens")
    assert answer.article_id == "ferry-order"
    assert answer.fact == "Gdynia"


def test_question_matching_nothing_is_declined_with_suggestions(index: QAIndex) -> None:
    answer = index.ask("who won the chess olympiad?")
    assert not answer.found
    assert answer.suggestions


def test_unchanged_article_is_not_reindexed_and_changed_one_is() -> None:
    qa = QAIndex()
    qa.update([FERRY, MUSEUM])
    before = qa.table("ferry-order")
    qa.update([FERRY, MUSEUM])
    assert qa.table("ferry-order") is before
    edited = Article(id="ferry-order", title=FERRY.title, author=FERRY.author, date=FERRY.date,
                     paragraphs=(*FERRY.paragraphs, "The first boat is named Heron."),
                     digest="ferry-2")
    qa.update([edited])
    assert qa.table("ferry-order") is not before
    assert qa.table("museum-reopens") is None
    assert "Heron" in qa.ask("what is the first boat named?").text


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "?!?",
        "💰💰💰",
        "<script>alert('who')</script> where <b>built</b>",
        "who\x00is\x07the\x1b[31m chief executive\u200b?",
        "where " * 2000,
        "x" * 10_000,
        "wen " + "a" * 5000,
    ],
)
def test_hostile_input_never_raises(index: QAIndex, question: str) -> None:
    answer = index.ask(question)
    assert len(answer.text) <= MAX_ANSWER_CHARS
    pinned = index.ask(question, article_id="ferry-order")
    assert pinned.article_id == "ferry-order"


def test_markup_in_a_question_is_ignored(index: QAIndex) -> None:
    answer = index.ask("<b>where</b> will the boats be <i>built</i>?", article_id="ferry-order")
    assert answer.fact == "Gdynia"


def test_importing_qa_pulls_in_no_chat_platform() -> None:
    code = "import sys, briefbot.qa; print('telegram' in sys.modules, 'discord' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]


HARBOUR = Article(
    id="harbour-ban",
    title="BRENMOUTH BANS CRUISE SHIPS FROM ITS OLD HARBOUR 🚢",
    author="Nell Ashgrove",
    date=dt.date(2026, 3, 2),
    paragraphs=(
        "Councillors in Brenmouth voted on Monday to ban large cruise ships from the old harbour "
        "from May, after a debate that lasted four hours.",
        "The measure passed by seven votes to five.",
        "Brenmouth Ports Authority's harbour master, Ilse Varga, said the ships were too big for "
        "the quay. \u201cWe cannot keep squeezing 300-metre ships past fishing boats,\u201d she "
        "said.",
        "Tour operator Gideon Marsh, 61, warned that cafes on the quay would lose trade.",
        "The first cruise ships arrived from Valletta in 2019, escorted into port by a pilot boat "
        "travelling at 12 knots.",
        "The Fishermen's Guild, led by Tomas Pryor, backed the ban.",
    ),
    digest="harbour-1",
)


@pytest.fixture(scope="module")
def harbour() -> QATable:
    return QATable(HARBOUR)


def test_role_named_in_a_possessive_before_the_name_finds_the_person(harbour: QATable) -> None:
    answer = harbour.answer("who's the harbour master")
    assert answer.fact == "Ilse Varga"


def test_how_did_the_vote_go_gives_the_tally(harbour: QATable) -> None:
    assert harbour.answer("how did the vote go").fact == "seven votes to five"


def test_how_old_gives_the_age_next_to_that_name_only(harbour: QATable) -> None:
    assert harbour.answer("how old is gideon marsh").fact == "61"
    assert not harbour.answer("how old is ilse varga").found


def test_quote_said_by_she_in_the_next_sentence_is_theirs(harbour: QATable) -> None:
    answer = harbour.answer("what did the harbour master say")
    assert answer.found and "300-metre ships" in answer.text


def test_named_person_who_never_spoke_of_the_topic_is_not_quoted(harbour: QATable) -> None:
    assert not harbour.answer("what did gideon marsh say about parking").found
    assert not harbour.answer("what did tomas pryor say").found


def test_from_a_month_says_when_a_ban_starts(harbour: QATable) -> None:
    assert harbour.answer("when does the ban start").fact == "May"


def test_where_from_gives_the_place_of_origin(harbour: QATable) -> None:
    assert harbour.answer("where did the ships come from").fact == "Valletta"


def test_how_fast_gives_the_speed(harbour: QATable) -> None:
    assert harbour.answer("how fast was the pilot boat going").fact == "12 knots"


def test_question_about_one_body_is_not_answered_from_another(harbour: QATable) -> None:
    """The article says who leads the guild, not who leads the ports authority."""
    assert harbour.answer("who leads the fishermen's guild").fact == "Tomas Pryor"
    assert not harbour.answer("who leads the ports authority").found


def test_when_was_it_built_is_not_answered_with_another_event(harbour: QATable) -> None:
    assert not harbour.answer("when was the quay built").found


def test_whats_the_score_gives_the_scoreline() -> None:
    match = Article(
        id="cup-tie", title="Rovers through to the final ⚽", author=None, date=None,
        paragraphs=("Two goals from Hanna Voss sent Ashdown Rovers into the final with a 3-1 win "
                    "over Millbrook Town on Saturday.",
                    "Voss, 19, scored in the 12th and 67th minutes."),
        digest="cup-1",
    )
    assert QATable(match).answer("whats the score").fact == "3-1"


RACE = Article(
    id="city-race",
    title="Record field at the Dunmore half marathon 🏃",
    author="Ola Brandt",
    date=dt.date(2026, 4, 12),
    paragraphs=(
        "A record 9,400 runners started the Dunmore half marathon on Sunday, and the winner, "
        "Ruth Okello, crossed the finish line in 68 minutes.",
        "Local councillor Peter Haas called the event \u201ca great day for the town and its "
        "shops.\u201d",
        "Police closed six roads along the route until 2 p.m.",
    ),
    digest="race-1",
)


def test_how_many_finished_is_not_answered_with_how_many_started() -> None:
    """The sentence counts starters; the article never says how many finished."""
    reply = QATable(RACE).answer("how many runners finished the race")
    assert not reply.found


def test_speaker_named_by_role_who_never_spoke_of_the_topic_is_not_quoted() -> None:
    reply = QATable(RACE).answer("what did the councillor say about the police")
    assert not reply.found


def test_speaker_named_by_role_is_still_quoted_without_a_topic() -> None:
    reply = QATable(RACE).answer("what did the councillor say")
    assert reply.found and "great day" in reply.text


def test_a_question_that_fits_two_articles_equally_goes_to_the_newer_one() -> None:
    """Routing must not depend on set order: on a tie the newest article wins, then the id."""
    body = ("The Riverside bakery won the county bread prize on Saturday.",
            "Head baker Tomas Rudd said the sourdough took three days to make.")
    older = Article(id="bread-a", title="BAKERY WINS PRIZE", author="A", date=dt.date(2026, 1, 5), paragraphs=body)
    newer = Article(id="bread-b", title="BAKERY WINS PRIZE", author="A", date=dt.date(2026, 2, 5), paragraphs=body)
    for order in ([older, newer], [newer, older]):
        index = QAIndex()
        index.update(order)
        answer = index.ask("who is the head baker?")
        assert answer.found and answer.article_id == "bread-b"


def test_routing_prefers_the_article_with_the_questions_own_word_over_a_synonym() -> None:
    talks = Article(id="summit", title="LEADERS MEET", author="A", date=dt.date(2026, 1, 5), paragraphs=(
        "Foreign ministers held talks in Oslo on Monday.",
        "The talks were attended by Minister Ines Braga of Portugal and officials from Chile.",
    ))
    conference = Article(id="bank", title="BANK HOLDS RATES", author="B", date=dt.date(2026, 3, 5), paragraphs=(
        "Governor Paul Aske told a press conference that rates would stay at 3 percent.",
    ))
    index = QAIndex()
    index.update([talks, conference])
    answer = index.ask("who was at the talks?")
    assert answer.found and answer.article_id == "summit"
    assert "Braga" in answer.text


# --- Answers run in worker threads while the library reloads on the event loop. ---


def _paused_in(worker: threading.Thread, entered: threading.Event, gate: threading.Event) -> None:
    """Called from inside an answer: in `worker`, say so and wait until the test lets it go."""
    if threading.current_thread() is worker:
        entered.set()
        gate.wait(timeout=30)  # a guard against a hang, not a timing


def test_an_answer_in_flight_keeps_the_articles_it_started_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload swaps in a new index; it never changes the one an answer is reading."""
    qa = QAIndex()
    qa.update([FERRY, MUSEUM])
    entered, gate = threading.Event(), threading.Event()
    answers: list[Answer] = []
    worker = threading.Thread(target=lambda: answers.append(qa.ask("where will the boats be bilt?")))
    real = index_module._plausible_typo  # called while routing ("bilt" -> "built")

    def paused(word: str, candidate: str) -> bool:
        _paused_in(worker, entered, gate)
        return real(word, candidate)

    monkeypatch.setattr(index_module, "_plausible_typo", paused)
    worker.start()
    assert entered.wait(timeout=30)
    qa.update([MUSEUM])  # the ferry article is deleted while the answer is being routed
    gate.set()
    worker.join()
    (answer,) = answers
    assert answer.found and answer.article_id == "ferry-order" and "Gdynia" in answer.text
    assert qa.table("ferry-order") is None and qa.ask("where will the boats be built?").found is False


def test_two_chats_asking_one_article_at_once_each_get_what_they_asked_for() -> None:
    """Whether a refusal carries suggestions belongs to the call, not to the shared table."""
    table = QATable(FERRY)
    entered, gate = threading.Event(), threading.Event()
    answers: list[Answer] = []
    worker = threading.Thread(
        target=lambda: answers.append(table.answer("how many troops were there?", suggest=False))
    )
    real = table._answer

    def paused(question: Question, vector: object = None) -> Answer:
        _paused_in(worker, entered, gate)
        return real(question, vector)  # type: ignore[arg-type]

    table._answer = paused  # type: ignore[method-assign]
    worker.start()
    assert entered.wait(timeout=30)
    other = table.answer("how many troops were there?")  # another chat, with suggestions
    gate.set()
    worker.join()
    (quiet,) = answers
    assert other.found is False and other.suggestions
    assert quiet.found is False and quiet.suggestions == ()


def test_a_mention_in_the_question_does_not_stop_the_answer(index: QAIndex) -> None:
    for question in ("@everyone where will the boats be built?",
                     "where will the boats be built? @briefbot"):
        reply = index.ask(question, article_id="ferry-order")
        assert reply.found and "Gdynia" in reply.text


def test_a_follow_up_with_a_pronoun_stays_on_the_article_the_chat_was_given() -> None:
    """'it' is the museum the chat was just briefed on, not the ferry route other articles count
    commuters on: the museum article doesn't say, and a ferry figure would be a wrong answer."""
    qa = QAIndex()
    qa.update([FERRY, MUSEUM])
    reply = qa.ask("how many commuters use it?", last_briefed="museum-reopens")
    assert reply.article_id == "museum-reopens" and not reply.found
    assert qa.ask("how many commuters use the ferry route?", last_briefed="museum-reopens").found
