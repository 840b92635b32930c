"""Articles: both file formats, newest-first ordering, live reload, and every fault reported."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from briefbot import articles
from briefbot.articles import (
    MAX_BODY_CHARS,
    MAX_BYLINE_CHARS,
    MAX_CURATED_QA,
    MAX_EDITOR_BULLETS,
    MAX_TITLE_CHARS,
    ArticleFileError,
    Library,
    parse_article,
    parse_date,
)

Write = Callable[[str, str | bytes], Path]


def test_txt_article_reads_headline_author_date_and_paragraphs(content_dir: Path) -> None:
    article, problems = parse_article(content_dir / "harbour.txt")
    assert article.id == "harbour"
    assert article.title.startswith("HARBOUR CITY OPENS")
    assert article.author == "Priya Natarajan"
    assert article.date == dt.date(2026, 3, 2)
    assert len(article.paragraphs) == 5
    assert problems == []


def test_md_article_reads_front_matter_and_strips_markdown(content_dir: Path) -> None:
    article, problems = parse_article(content_dir / "market.md")
    assert article.title == "Farmers market moves to the riverside"
    assert article.source_url == "https://news.example.org/market"
    assert article.tags == ("city", "food")
    assert article.qa[0].answer == "Saturdays from 8 a.m. to 1 p.m."
    assert article.qa[0].questions == ("When is the market open?", "what are the opening hours")
    assert "The weekly farmers market moves to the riverside park on Saturday." in article.sentences
    assert problems == []


def test_library_orders_newest_first_and_finds_by_id(content_dir: Path) -> None:
    library = Library(content_dir)
    library.reload()
    assert [a.id for a in library.articles] == ["market", "harbour"]
    assert library.latest() is library.find("market")
    assert library.find("nope") is None


def test_sentences_keep_abbreviations_whole() -> None:
    from briefbot.text import split_sentences

    text = "Gen. Alexus Grynkewich met U.S. officials at 4 a.m. on Monday. Talks went well."
    assert split_sentences(text) == [
        "Gen. Alexus Grynkewich met U.S. officials at 4 a.m. on Monday.",
        "Talks went well.",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("February 11, 2026", dt.date(2026, 2, 11)),
        ("Feb 11, 2026", dt.date(2026, 2, 11)),
        ("11 February 2026", dt.date(2026, 2, 11)),
        ("2026-02-11", dt.date(2026, 2, 11)),
        ("sometime last week", None),
    ],
)
def test_dates_in_common_formats_are_read(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


def _problems_for(library: Library, name: str) -> list[str]:
    return [str(p) for p in library.problems if p.path.name == name]


def test_a_date_far_ahead_is_served_with_a_warning_naming_the_file_and_date(
    content_dir: Path, write: Write
) -> None:
    """date: 9999-12-31 was taken silently, and that article stayed the newest for good."""
    write("typo.md", "---\ntitle: Typo in the year\ndate: 9999-12-31\n---\nBody.\n")
    library = Library(content_dir)
    report = library.reload()
    assert library.latest() is library.find("typo")  # still served: the date is not refused
    (problem,) = [str(p) for p in report.problems]
    assert problem == ("typo.md: warning: the date 9999-12-31 is more than a day ahead, so "
                       "this article is the newest until then; fix the date if it is a typo")


def test_a_date_ahead_is_warned_about_only_when_it_is_more_than_a_day_ahead_everywhere(
    content_dir: Path, write: Write
) -> None:
    """'now' is the clock's: tomorrow is already today east of UTC; the day after is not."""
    now = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    write("tomorrow.txt", "TOMORROW\n- Ana\n- March 11, 2026\n\nBody.\n")
    write("later.txt", "LATER\n- Ana\n- March 12, 2026\n\nBody.\n")  # Mar 12 starts in 10.5 h at UTC+14
    write("after.txt", "AFTER\n- Ana\n- March 13, 2026\n\nBody.\n")
    write("timed.md", "---\ntitle: Timed\ndate: 2026-03-12T00:00:00+00:00\n---\nBody.\n")
    write("ancient.md", "---\ntitle: Ancient\ndate: 0001-01-01\n---\nBody.\n")
    library = Library(content_dir, clock=lambda: now)
    report = library.reload()
    assert sorted(p.path.name for p in report.problems) == ["after.txt", "timed.md"]
    assert all(not p.fatal for p in report.problems)
    now = dt.datetime(2026, 3, 12, tzinfo=dt.UTC)  # time passes: the warnings go
    assert library.reload().problems == ()


def test_broken_files_are_each_reported_and_the_rest_load(content_dir: Path, write: Write) -> None:
    write("empty.txt", "")
    write("latin1.txt", "CAF\xc9 OPENS\n- Ana\n- March 1, 2026\n\nBody.\n".encode("latin-1"))
    write("badyaml.md", "---\ntitle: [unclosed\nauthor: x\n---\nBody text.\n")
    write("huge.txt", "BIG\n- A\n- March 1, 2026\n\n" + "word " * 210_000)
    write("notitle.md", "---\nauthor: Someone\n---\nBody.\n")
    library = Library(content_dir)
    report = library.reload()

    assert {a.id for a in library.articles} == {"harbour", "market"}
    assert "empty.txt:1: error: the file is empty" in _problems_for(library, "empty.txt")[0]
    assert "not UTF-8" in _problems_for(library, "latin1.txt")[0]
    assert "latin1.txt:1:" in _problems_for(library, "latin1.txt")[0]
    assert "invalid YAML front matter" in _problems_for(library, "badyaml.md")[0]
    assert "badyaml.md:3:" in _problems_for(library, "badyaml.md")[0]  # where YAML noticed
    assert "limit" in _problems_for(library, "huge.txt")[0]
    assert "needs a 'title:'" in _problems_for(library, "notitle.md")[0]
    assert len(report.problems) == 5


def test_headline_without_byline_loads_with_a_warning(content_dir: Path, write: Write) -> None:
    write("bare.txt", "JUST A HEADLINE 📰\n\nOne sentence of body.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("bare")
    assert article is not None and article.author is None and article.date is None
    (problem,) = _problems_for(library, "bare.txt")
    assert "warning" in problem and "byline" in problem


def test_unreadable_date_is_reported_with_its_line(content_dir: Path, write: Write) -> None:
    write("odd.txt", "ODD DATE\n- Ana\n- the day after tomorrow\n\nBody.\n")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "odd.txt")
    assert problem.startswith("odd.txt:3: warning: can't read the date")
    assert library.find("odd") is not None


def test_two_files_with_the_same_id_keep_one_and_report_the_other(
    content_dir: Path, write: Write
) -> None:
    write("harbour.md", "---\ntitle: Another harbour story\ndate: 2026-03-09\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    assert library.find("harbour") is not None
    (problem,) = _problems_for(library, "harbour.txt")
    assert "harbour.md and harbour.txt both have the id 'harbour'" in problem


def test_a_second_file_with_a_served_id_names_both_files_and_the_one_served(
    content_dir: Path, write: Write
) -> None:
    """A seed.md dropped beside the served seed.txt took its place; the report named only the
    file left out, not which one readers now get."""
    library = Library(content_dir)
    library.reload()
    write("harbour.md", "---\ntitle: Another harbour story\ndate: 2026-03-09\n---\nBody.\n")
    report = library.reload()
    served = library.find("harbour")
    assert served is not None and served.title == "Another harbour story"  # sort order: .md first
    (problem,) = [str(p) for p in report.problems]
    assert problem == ("harbour.txt: error: harbour.md and harbour.txt both have the id "
                       "'harbour'; harbour.md is served, harbour.txt is not. Rename one of them")


def test_reload_picks_up_added_changed_and_removed_files(content_dir: Path, write: Write) -> None:
    library = Library(content_dir)
    library.reload()
    version = library.version
    write("new.txt", "NEW STORY\n- Ana\n- March 9, 2026\n\nFresh news.\n")
    harbour = content_dir / "harbour.txt"
    harbour.write_text(harbour.read_text().replace("40 minutes", "35 minutes"))
    os.utime(harbour, ns=(1, 2))  # a different mtime even on coarse-clock file systems
    (content_dir / "market.md").unlink()

    report = library.reload()
    assert report.added == ("new",)
    assert report.changed == ("harbour",)
    assert report.removed == ("market",)
    assert library.latest() is library.find("new")
    assert library.version == version + 1
    assert library.reload().changed_anything is False


def test_file_vanishing_between_listing_and_reading_is_not_fatal(content_dir: Path) -> None:
    gone = content_dir / "gone.txt"
    with pytest.raises(Exception, match="vanished"):
        parse_article(gone)
    library = Library(content_dir)
    library.reload()
    assert len(library.articles) == 2


def test_missing_content_folder_is_reported(tmp_path: Path) -> None:
    library = Library(tmp_path / "nowhere")
    report = library.reload()
    assert library.articles == ()
    assert "does not exist" in str(report.problems[0])


def test_a_readme_beside_the_articles_is_not_an_article(content_dir: Path, write: Write) -> None:
    write("README.md", "# About this folder\n\nDrop articles here.\n")
    library = Library(content_dir)
    report = library.reload()
    assert library.find("README") is None and report.problems == ()


def test_an_upper_case_extension_is_read_like_a_lower_case_one(
    content_dir: Path, write: Write
) -> None:
    """Story.TXT and Notes.MD (as some editors and cameras save them) were skipped without a
    word; they are the same formats."""
    write("Story.TXT", "UPPER CASE STORY\n- Ana\n- March 9, 2026\n\nThe ferry ran late.\n")
    write("Notes.MD", "---\ntitle: Shouted markdown\ndate: 2026-03-08\n---\nBody *here*.\n")
    library = Library(content_dir)
    library.reload()
    story, notes = library.find("Story"), library.find("Notes")
    assert story is not None and story.title == "UPPER CASE STORY" and story.author == "Ana"
    assert notes is not None and notes.title == "Shouted markdown"
    assert notes.paragraphs == ("Body here.",)  # read as Markdown, not as the .txt format
    assert library.problems == () and library.skipped == ()


def test_a_file_that_is_not_an_article_is_listed_as_skipped_with_why(
    content_dir: Path, write: Write
) -> None:
    write("notes.docx", b"PK\x03\x04 a word document")
    write("story.markdown", "---\ntitle: Long suffix\n---\nBody.\n")
    (content_dir / "drafts").mkdir()
    # Left unsaid: hidden files, editor backups and swap files, notes beside the articles.
    for quiet in (".DS_Store", "harbour.txt~", "#market.md#", "harbour.txt.bak",
                  "market.md.swp", "README.rst", "Thumbs.db"):
        write(quiet, b"x")
    (content_dir / ".git").mkdir()
    library = Library(content_dir)
    report = library.reload()
    assert [(s.path.name, s.reason) for s in library.skipped] == [
        ("drafts", "a folder; articles in folders inside the content folder are not read"),
        ("notes.docx", "not an article; only .txt and .md files are read"),
        ("story.markdown", "not an article; only .txt and .md files are read"),
    ]
    assert report.problems == ()  # nothing wrong with the articles: not a problem for `check`
    assert {a.id for a in library.articles} == {"harbour", "market"}


def test_absurdly_nested_front_matter_is_reported_not_fatal(content_dir: Path, write: Write) -> None:
    write("deep.md", "---\ntitle: Deep\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "deep.md")
    assert "nested too deeply" in problem
    assert len(library.articles) == 2


# --- Confinement: only regular files inside the (resolved) content folder are ever read. ---

SECRET_ARTICLE = "SECRET OUTSIDE THE FOLDER\n- Ana\n- March 9, 2026\n\nThis must never be served.\n"


def test_a_symlink_leading_out_of_the_folder_is_not_served(content_dir: Path) -> None:
    outside = content_dir.parent / "secret.txt"
    outside.write_text(SECRET_ARTICLE, encoding="utf-8")
    (content_dir / "passwd.txt").symlink_to(outside)
    library = Library(content_dir)
    library.reload()
    assert library.find("passwd") is None
    (problem,) = _problems_for(library, "passwd.txt")
    assert problem.startswith("passwd.txt: error: is a symlink to ")
    assert "outside the content folder; it is not served" in problem
    assert {a.id for a in library.articles} == {"harbour", "market"}


def test_a_symlink_to_the_process_environment_is_not_served(content_dir: Path) -> None:
    """/proc/self/environ reports size 0 and holds the bot token: it must never be read."""
    (content_dir / "environ.txt").symlink_to("/proc/self/environ")
    library = Library(content_dir)
    library.reload()
    assert library.find("environ") is None
    (problem,) = _problems_for(library, "environ.txt")
    assert "/proc/" in problem and "not served" in problem


def test_a_symlink_that_stays_inside_the_folder_is_served_under_its_own_name(
    content_dir: Path,
) -> None:
    """The decision: links inside the folder are followed (Kubernetes ConfigMap volumes are
    made of them: `seed.txt -> ..data/seed.txt`); the id is the link's name."""
    hidden = content_dir / "..data"
    hidden.mkdir()
    (hidden / "ferry.txt").write_text(SECRET_ARTICLE.replace("OUTSIDE", "INSIDE"), "utf-8")
    (content_dir / "ferry.txt").symlink_to(Path("..data") / "ferry.txt")
    library = Library(content_dir)
    library.reload()
    ferry = library.find("ferry")
    assert ferry is not None and ferry.title.startswith("SECRET INSIDE")
    assert library.problems == () and library.skipped == ()


def test_a_symlink_to_another_article_in_the_folder_is_one_article_not_two(
    content_dir: Path,
) -> None:
    """`harbour-alias.txt -> harbour.txt` made a second article of the same story, so /list
    and the daily digest showed it twice. The real file is the article; the other name is
    skipped, and said so."""
    (content_dir / "a-harbour.txt").symlink_to("harbour.txt")  # sorts before the real file
    (content_dir / "harbour-alias.txt").symlink_to("harbour.txt")
    library = Library(content_dir)
    report = library.reload()
    assert [a.id for a in library.articles] == ["market", "harbour"]
    assert [(s.path.name, s.reason) for s in library.skipped] == [
        ("a-harbour.txt", "same file as harbour.txt; a file is read once, under one name"),
        ("harbour-alias.txt", "same file as harbour.txt; a file is read once, under one name"),
    ]
    assert report.problems == ()  # not a fault: nothing is wrong with the story
    assert report.added == ("harbour", "market")


def test_a_hard_link_to_another_article_in_the_folder_is_one_article_not_two(
    content_dir: Path,
) -> None:
    """`ln harbour.txt copy.txt` (or a deploy tool that links instead of copying) is the same
    file under two names: one article, the first by name served, the other skipped."""
    os.link(content_dir / "harbour.txt", content_dir / "copy.txt")
    library = Library(content_dir)
    library.reload()
    assert sorted(a.id for a in library.articles) == ["copy", "market"]
    assert [(s.path.name, s.reason) for s in library.skipped] == [
        ("harbour.txt", "same file as copy.txt; a file is read once, under one name"),
    ]


def test_links_to_one_file_outside_the_listing_serve_it_once_under_a_fixed_name(
    content_dir: Path,
) -> None:
    """When the real file is not itself listed (it lives in a hidden folder, as in a ConfigMap
    volume), the link named like it wins, else the first by name: the same one every scan."""
    hidden = content_dir / "..data"
    hidden.mkdir()
    (hidden / "ferry.txt").write_text(SECRET_ARTICLE.replace("OUTSIDE", "INSIDE"), "utf-8")
    (content_dir / "ferry.txt").symlink_to(Path("..data") / "ferry.txt")
    (content_dir / "a-ferry.txt").symlink_to("ferry.txt")
    (hidden / "pier.txt").write_text(SECRET_ARTICLE.replace("OUTSIDE", "PIER"), "utf-8")
    (content_dir / "pier-b.txt").symlink_to(Path("..data") / "pier.txt")
    (content_dir / "pier-a.txt").symlink_to(Path("..data") / "pier.txt")
    library = Library(content_dir)
    library.reload()
    assert {a.id for a in library.articles} == {"harbour", "market", "ferry", "pier-a"}
    assert [(s.path.name, s.reason.split(";")[0]) for s in library.skipped] == [
        ("a-ferry.txt", "same file as ferry.txt"), ("pier-b.txt", "same file as pier-a.txt"),
    ]
    # Removing the name that was served brings the other one in; a rescan keeps the choice.
    (content_dir / "pier-a.txt").unlink()
    report = library.reload()
    assert {a.id for a in library.articles} == {"harbour", "market", "ferry", "pier-b"}
    assert (report.added, report.removed) == (("pier-b",), ("pier-a",))
    assert library.reload().changed_anything is False


def test_a_symlinked_content_folder_is_resolved_once_and_still_confines(tmp_path: Path) -> None:
    real = tmp_path / "releases" / "v2"
    real.mkdir(parents=True)
    (real / "news.txt").write_text(SECRET_ARTICLE.replace("OUTSIDE", "IN"), "utf-8")
    (tmp_path / "releases" / "other.txt").write_text(SECRET_ARTICLE, "utf-8")
    (real / "escape.txt").symlink_to(Path("..") / "other.txt")
    (tmp_path / "content").symlink_to(real)
    library = Library(tmp_path / "content")
    library.reload()
    assert [a.id for a in library.articles] == ["news"]
    (problem,) = _problems_for(library, "escape.txt")
    assert "outside the content folder" in problem


def test_symlink_loops_and_dangling_links_are_reported_not_fatal(content_dir: Path) -> None:
    (content_dir / "loop.txt").symlink_to("loop2.txt")
    (content_dir / "loop2.txt").symlink_to("loop.txt")
    (content_dir / "dangling.md").symlink_to("nowhere.md")
    library = Library(content_dir)
    library.reload()
    assert "symlink loop" in _problems_for(library, "loop.txt")[0]
    assert "symlink loop" in _problems_for(library, "loop2.txt")[0]
    assert "does not exist" in _problems_for(library, "dangling.md")[0]
    assert {a.id for a in library.articles} == {"harbour", "market"}


def test_a_fifo_in_the_folder_is_reported_and_does_not_hang_the_scan(content_dir: Path) -> None:
    os.mkfifo(content_dir / "pipe.txt")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "pipe.txt")
    assert problem == "pipe.txt: error: is a named pipe (FIFO), not a regular file; it is not served"
    assert len(library.articles) == 2


def _without_waiting_forever(read: Callable[[], object], fifo: Path) -> BaseException | None:
    """Run `read` in a thread; if it blocks on `fifo`, open the pipe for writing to free it."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read()
            outcome.append(None)
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # blocked in open() or read() on the pipe: release it, then fail
        with open(fifo, "wb"):
            pass
        worker.join()
        pytest.fail("reading the article waited on a named pipe")
    return outcome[0]


def test_a_file_swapped_for_a_fifo_after_the_scan_is_refused_not_waited_on(
    content_dir: Path,
) -> None:
    fifo = content_dir / "swapped.txt"
    os.mkfifo(fifo)
    error = _without_waiting_forever(lambda: parse_article(fifo), fifo)
    assert isinstance(error, ArticleFileError) and "named pipe" in error.message


def test_a_file_swapped_for_a_symlink_after_it_was_checked_is_not_followed(
    content_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check and the open are separate steps; the open itself refuses what changed between."""
    outside = content_dir.parent / "secret.txt"
    outside.write_text(SECRET_ARTICLE, encoding="utf-8")
    (content_dir / "swapped.txt").symlink_to(outside)
    (content_dir.parent / "elsewhere").mkdir()
    (content_dir.parent / "elsewhere" / "a.txt").write_text(SECRET_ARTICLE, encoding="utf-8")
    (content_dir / "sub").symlink_to(content_dir.parent / "elsewhere")
    # As if each path had still been a plain file inside the folder when it was checked.
    monkeypatch.setattr(articles, "_confined_target", lambda path, root: path)
    with pytest.raises(ArticleFileError, match="replaced by a symlink"):
        parse_article(content_dir / "swapped.txt", content_dir)
    with pytest.raises(ArticleFileError, match="outside the content folder"):
        parse_article(content_dir / "sub" / "a.txt", content_dir)


def test_a_huge_article_is_clipped_for_briefing_and_qa_with_a_warning(
    content_dir: Path, write: Write,
) -> None:
    sentence = "The council met again on Tuesday to discuss the long harbour plan. "
    paragraph = sentence * 100  # 6,700 characters a paragraph
    body = "\n".join([paragraph] * 140)  # over 900,000 characters, under the 1 MB file cap
    write("long.txt", "A VERY LONG STORY\n- Ana\n- March 9, 2026\n\n" + body + "\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("long")
    assert article is not None
    assert sum(len(p) for p in article.paragraphs) == MAX_BODY_CHARS
    (problem,) = _problems_for(library, "long.txt")
    length = 140 * len(paragraph.strip())
    assert problem.startswith(f"long.txt: warning: the body is {length:,} characters")
    assert f"use only the first {MAX_BODY_CHARS:,}" in problem


def test_a_headline_that_is_the_whole_text_is_cut_with_a_warning(
    content_dir: Path, write: Write,
) -> None:
    write("oneline.txt", "NO LINE BREAKS " * 400 + "\n- Ana\n- March 9, 2026\n\nBody.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("oneline")
    assert article is not None and len(article.title) <= MAX_TITLE_CHARS
    (problem,) = _problems_for(library, "oneline.txt")
    assert problem.startswith("oneline.txt:1: warning: the headline is 5,999 characters")


def test_an_empty_md_file_is_told_to_start_with_front_matter(
    content_dir: Path, write: Write,
) -> None:
    # An empty .md was told to "write a headline on line 1", which makes it no article either.
    write("empty.md", "")
    write("blank.md", "\n  \n")
    library = Library(content_dir)
    library.reload()
    for name in ("empty.md", "blank.md"):
        [problem] = _problems_for(library, name)
        assert f"{name}:1: error: the file is empty" in problem
        assert "front matter" in problem and "title:" in problem
        assert "headline on line 1" not in problem


def test_a_long_headline_is_cut_between_words_and_marked_as_cut(
    content_dir: Path, write: Write,
) -> None:
    # A newcomer's run-on headline: the briefing and /list showed it ending in "harbour r".
    headline = " ".join(["Council approves sweeping harbour redevelopment plan"] * 8)
    write("runon.txt", headline + "\n- Ana\n- March 9, 2026\n\nBody.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("runon")
    assert article is not None and len(article.title) <= MAX_TITLE_CHARS
    assert article.title.endswith("…")
    kept = article.title.removesuffix("…").split()
    assert kept == headline.split()[: len(kept)] and len(kept) > 30


def test_a_byline_that_is_the_whole_text_is_cut_with_a_warning(
    content_dir: Path, write: Write,
) -> None:
    write("longby.txt", "LONG BYLINE\n- " + "Ana " * 5_000 + "\n- March 9, 2026\n\nBody.\n")
    write("longbymd.md", "---\ntitle: Long byline\nauthor: " + "Ana " * 5_000 + "\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    for name in ("longby", "longbymd"):
        article = library.find(name)
        assert article is not None and len(article.author or "") <= MAX_BYLINE_CHARS
    (problem,) = _problems_for(library, "longby.txt")
    assert problem.startswith("longby.txt:2: warning: the author is 19,999 characters")


def test_front_matter_over_its_limit_is_refused(content_dir: Path, write: Write) -> None:
    write("fat.md", "---\ntitle: Fat\nnotes: \"" + "x" * 70_000 + "\"\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    assert library.find("fat") is None
    (problem,) = _problems_for(library, "fat.md")
    assert problem.startswith("fat.md:2: error: the front matter is 70,020 characters, over the")
    assert "keep the article's text below the closing '---'" in problem


def test_too_many_curated_answers_and_bullets_keep_the_first(
    content_dir: Path, write: Write,
) -> None:
    qa = "".join(f"  - q: 'question {n}?'\n    a: 'answer {n}'\n" for n in range(80))
    bullets = "".join(f"  - Bullet number {n} of the story.\n" for n in range(40))
    write("many.md", f"---\ntitle: Many\ndate: 2026-03-09\nqa:\n{qa}bullets:\n{bullets}---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("many")
    assert article is not None
    assert len(article.qa) == MAX_CURATED_QA and len(article.bullets) == MAX_EDITOR_BULLETS
    problems = _problems_for(library, "many.md")
    assert "many.md: warning: 'qa:' has 80 entries; only the first 50 are used" in problems
    assert "many.md: warning: 'bullets:' has 40 lines; only the first 10 are used" in problems


def test_a_front_matter_key_written_twice_is_named_and_the_last_is_used(
    content_dir: Path, write: Write,
) -> None:
    """Two `title:` lines: YAML silently kept the last. The article is still served (as any
    YAML reader reads it), with a warning naming the key and both lines."""
    write("twice.md", "---\ntitle: Draft headline\ndate: 2026-03-01\ntitle: Ferry line opens"
                      "\n---\n\nThe ferry line opened on Monday.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("twice")
    assert article is not None and article.title == "Ferry line opens"
    assert _problems_for(library, "twice.md") == [
        "twice.md: warning: 'title:' is written twice in the front matter (lines 2 and 4); "
        "the last one is used: delete the other"]


def test_yaml_aliases_cannot_blow_up_the_front_matter(content_dir: Path, write: Write) -> None:
    """Six lines of aliases stand for a million items: refused, never printed or iterated."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 6)]
    write("bomb.md", "---\ntitle: Bomb\n" + "\n".join(levels)
          + "\ntags: *a5\nauthor: *a5\ndate: *a5\nbullets: *a5\nsource_url: *a5\n"
          "qa:\n  - q: *a5\n    a: *a5\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    article = library.find("bomb")
    assert article is not None
    assert (article.tags, article.author, article.bullets, article.qa) == ((), None, (), ())
    problems = _problems_for(library, "bomb.md")
    assert "bomb.md: warning: 'tags:' should be a list of lines; entries that are not are ignored" in problems
    assert "bomb.md: warning: 'author:' should be a name; it is ignored" in problems
    assert "bomb.md: warning: can't read the date '(not a date)'; write it like 2026-02-11" in problems
    assert all(len(p) < 200 for p in problems)


@pytest.mark.parametrize("first_line, kind", [
    ("- Kim Park", "a byline ('- Kim Park')"),
    ("March 9, 2026", "a date ('March 9, 2026')"),
    ("- March 9, 2026", "a byline ('- March 9, 2026')"),
])
def test_a_txt_starting_at_its_byline_or_date_is_an_error_not_the_newest_briefing(
    content_dir: Path, write: Write, first_line: str, kind: str,
) -> None:
    write("nohead.txt", f"{first_line}\n- March 10, 2026\n\nThe ferry line reopened on Monday.\n")
    library = Library(content_dir)
    library.reload()
    assert library.find("nohead") is None
    assert library.latest() is library.find("market")
    (problem,) = _problems_for(library, "nohead.txt")
    assert problem.startswith(f"nohead.txt:1: error: line 1 is {kind}, but line 1 must be the "
                              "headline; write the headline above it")


def test_check_exits_1_on_a_txt_without_a_headline(content_dir: Path) -> None:
    from test_cli import briefbot

    (content_dir / "nohead.txt").write_text("- Kim Park\n- March 10, 2026\n\nBody text.\n")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1
    assert "content/nohead.txt:1: error: line 1 is a byline ('- Kim Park')" in check.stdout


ENTITY_ARTICLE = """---
title: "Q&amp;A: the mayor&#39;s plan &mdash; <em>what</em> it costs"
author: Ana&nbsp;Vos
date: 2026-03-10
bullets:
  - "The plan costs &euro;4&nbsp;million."
---
The plan costs &euro;4&nbsp;million, the mayor&#39;s office said on Monday.<br>Work on the
riverside starts in <em>May</em> and ends in <strong>June</strong>.

<p>Residents can see the <a href="https://x.example">drawings</a> at the library.<br/>Comments
close on April&nbsp;30.</p>

Council members back the <b>Q&amp;A</b> sessions &amp; the plan.
"""


def test_md_entities_and_inline_html_read_as_a_renderer_shows_them(
    content_dir: Path, write: Write,
) -> None:
    write("plan.md", ENTITY_ARTICLE)
    article, problems = parse_article(content_dir / "plan.md")
    assert article.title == "Q&A: the mayor's plan — what it costs"
    assert article.author == "Ana Vos"
    assert article.bullets == ("The plan costs €4 million.",)
    assert article.sentences == (
        "The plan costs €4 million, the mayor's office said on Monday.",
        "Work on the riverside starts in May and ends in June.",
        "Residents can see the drawings at the library.",
        "Comments close on April 30.",
        "Council members back the Q&A sessions & the plan.",
    )
    assert problems == []


def test_md_without_bullets_shows_no_markup_in_any_renderer(content_dir: Path, write: Write) -> None:
    from briefbot.briefing import make_briefing
    from briefbot.render.discord import render_discord
    from briefbot.render.plain import render_plain
    from briefbot.render.telegram import render_telegram

    write("plan.md", ENTITY_ARTICLE.replace('bullets:\n  - "The plan costs &euro;4&nbsp;million."\n', ""))
    article, _ = parse_article(content_dir / "plan.md")
    briefing = make_briefing(article)
    assert not any("Work on" in b.text and "said" in b.text for b in briefing.bullets)  # <br> splits
    plain = render_plain(briefing)
    shown = [plain, *render_telegram(briefing),
             *(json.dumps(m.to_dict(), ensure_ascii=False) for m in render_discord(briefing))]
    for text in shown:
        for markup in ("&amp;amp;", "&#39;", "&mdash;", "&nbsp;", "&lt;br", "<br", "&lt;em", "<em>"):
            assert markup not in text
    assert "Q&A: the mayor's plan — what it costs" in plain


def test_an_impossible_front_matter_date_names_its_line_and_an_example(
    content_dir: Path, write: Write,
) -> None:
    write("month13.md", "---\ntitle: Month thirteen\nauthor: Ana\ndate: 2026-13-01\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "month13.md")
    assert problem == ("month13.md:4: error: 'date: 2026-13-01' is not a real date (month must be "
                       "in 1..12); write it as year-month-day, like 'date: 2026-02-11'")


def test_bidi_overrides_and_control_characters_never_reach_readers(tmp_path: Path) -> None:
    """A feed item can carry U+202E (text shown backwards) or NUL/BEL; readers get neither."""
    path = tmp_path / "evil.txt"
    path.write_text("Council \u202eapproves\u202c budget\n- Kim Park\n- March 3, 2026\n\n"
                    "The council\x00approved the \u2066budget\u2069 on Monday.\x07\n",
                    encoding="utf-8")
    article, _ = parse_article(path)
    assert article.title == "Council approves budget"
    assert article.paragraphs == ("The council approved the budget on Monday.",)


@pytest.mark.parametrize(("front", "says"), [
    ("title: 1984", "'title: 1984' is read as a number, not text; put it in quotes: "
                    "title: \"1984\""),
    ("title: 2026-03-01", "'title: 2026-03-01' is read as a date, not text; put it in quotes: "
                          "title: \"2026-03-01\""),
    ("title: yes", "'title: yes' is read as true/false, not text; put it in quotes: "
                   "title: \"yes\""),
    ("title: [Ferry, line]", "'title:' is a list; write the headline as one line of text"),
])
def test_a_title_yaml_reads_as_no_text_says_how_to_write_it(
    content_dir: Path, write: Write, front: str, says: str
) -> None:
    """Before, each of these said "the front matter needs a 'title:'", under a title: line."""
    write("odd.md", f"---\nauthor: Ana\n{front}\ndate: 2026-03-01\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "odd.md")
    assert problem == f"odd.md:3: error: {says}"
