"""Markdown bodies an attacker or a broken export could write: seconds to read each, printed.

Run: python bench/markdown_speed.py. With the old unbounded regular expressions 60,000
characters of "_a " took 11.5 s; bounded, 0.16 s; read by markdown-it-py (CommonMark), 0.17 s,
and at most 0.4 s for any case here.
"""

from __future__ import annotations

import time
from pathlib import Path
from tempfile import TemporaryDirectory

from briefbot.articles import parse_article

CASES = {
    "unclosed '_' (\"_a \" x 20,000)": "_a " * 20_000,
    "unclosed '*' (\"*a \" x 20,000)": "*a " * 20_000,
    "unclosed '`' (\"`a \" x 20,000)": "`a " * 20_000,
    "unclosed '[' (\"[a \" x 20,000)": "[a " * 20_000,
    "unclosed '<' (\"<a \" x 20,000)": "<a " * 20_000,
    "entities (\"&amp; \" x 12,000)": "&amp; " * 12_000,
    "a plain 1,500-word article": "The council met on Tuesday to discuss the harbour plan. " * 150,
}


def main() -> None:
    with TemporaryDirectory() as folder:
        for name, body in CASES.items():
            path = Path(folder) / "case.md"
            path.write_text(f"---\ntitle: Case\ndate: 2026-03-09\n---\n{body}\n", "utf-8")
            start = time.perf_counter()
            parse_article(path)
            print(f"{name:40} {time.perf_counter() - start:8.3f} s")


if __name__ == "__main__":
    main()
