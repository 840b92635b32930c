"""Articles: both file formats, newest-first ordering, live reload, and every fault reported."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from briefbot.articles import Library, parse_article, parse_date

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
    assert "already has the id 'harbour'" in problem


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


def test_absurdly_nested_front_matter_is_reported_not_fatal(content_dir: Path, write: Write) -> None:
    write("deep.md", "---\ntitle: Deep\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n")
    library = Library(content_dir)
    library.reload()
    (problem,) = _problems_for(library, "deep.md")
    assert "nested too deeply" in problem
    assert len(library.articles) == 2
