"""Cost of oversized articles: load time, memory and answer time for files just under the 1 MB cap.

Usage: python bench/article_cap.py [--files 40] [--kb 990] [--questions 20]
Writes `files` articles of `kb` KB of varied news sentences into a temporary folder, loads them
as the bot does (Library.reload, then QAIndex.update) and asks routed questions. Prints the load
time, peak resident memory and answer latency. Before the body clip (MAX_BODY_CHARS) 40 such
files took the bot from 57 MB to 1.2 GB and each answer to 6.6 s; run it against an older
checkout (PYTHONPATH=that/src) to compare.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from briefbot.articles import Library
from briefbot.qa import QAIndex

PEOPLE = ("Elena Vos", "Marta Oyelowo", "Kofi Abara", "Ines Castell", "Hiro Nakamura",
          "Greta Lindgren", "Omar Petrov", "Zara Weber")
PLACES = ("Bergen", "Lisbon", "Oslo", "Nairobi", "Gdynia", "Tallinn", "Quito", "Hanoi")
THINGS = ("ferry line", "wind farm", "school budget", "bridge repair", "port expansion",
          "bus fare", "water reform", "stadium plan")
VERBS = ("approved", "delayed", "announced", "funded", "rejected", "expanded")


def _sentence(rng: random.Random) -> str:
    return (f"{rng.choice(PEOPLE)} said the {rng.choice(THINGS)} in {rng.choice(PLACES)} was "
            f"{rng.choice(VERBS)} on day {rng.randint(1, 28)} at a cost of "
            f"{rng.randint(2, 900)} million euros.")


def _write(folder: Path, files: int, size: int, rng: random.Random) -> None:
    for n in range(files):
        lines = [f"REPORT NUMBER {n} ON CITY WORKS", "- Bench Writer", "- March 9, 2026", ""]
        length = sum(len(line) + 1 for line in lines)
        while length < size:
            paragraph = " ".join(_sentence(rng) for _ in range(8))
            lines.append(paragraph)
            length += len(paragraph.encode()) + 1
        (folder / f"report-{n:03}.txt").write_text("\n".join(lines)[:size], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--kb", type=int, default=990, help="size of each file in KB")
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, args.files, args.kb * 1000, rng)
        start = time.perf_counter()
        library = Library(folder)
        report = library.reload()
        qa = QAIndex()
        qa.update(library.articles)
        load = time.perf_counter() - start
    clipped = sum("use only the first" in p.message for p in report.problems)
    times = []
    for _ in range(args.questions):
        question = f"how much did the {rng.choice(THINGS)} in {rng.choice(PLACES)} cost?"
        begin = time.perf_counter()
        qa.ask(question)
        times.append(time.perf_counter() - begin)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    body = sum(len(p) for a in library.articles for p in a.paragraphs)
    print(f"articles:           {len(library.articles)} x {args.kb} KB "
          f"({clipped} clipped with a warning)")
    print(f"body text indexed:  {body:,} characters")
    print(f"load and index:     {load:.1f} s")
    print(f"peak memory:        {peak:.0f} MB (interpreter and imports: {base:.0f} MB)")
    print(f"answer:             p50 {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} questions")


if __name__ == "__main__":
    main()
