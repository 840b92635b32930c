"""Shared fixtures: small article folders written fresh for each test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

HARBOUR_TXT = """\
HARBOUR CITY OPENS NEW FERRY LINE TO THE ISLANDS ⛴️
- Priya Natarajan
- March 2, 2026

The Harbour City council opened a new ferry line to the Kestrel Islands on Monday, cutting the crossing to 40 minutes 🌊.
Mayor Elena Vos said the line would carry about 3,000 passengers a day.
The ferries were built by Nordvik Yards in Bergen at a cost of 24 million euros.
Critics warned that fares of 6 euros a trip are too high for island families.
"This line ties the islands to the city at last," Vos told reporters at the terminal.
"""

MARKET_MD = """\
---
title: Farmers market moves to the riverside
author: Tom Okafor
date: 2026-03-05
source_url: https://news.example.org/market
tags: [city, food]
qa:
  - q: ["When is the market open?", "what are the opening hours"]
    a: "Saturdays from 8 a.m. to 1 p.m."
---
# Farmers market moves

The weekly **farmers market** moves to the [riverside park](https://example.org) on Saturday.

About 60 stalls will sell fruit, bread and cheese, organisers said.
"""


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A content folder with one .txt and one .md article."""
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "harbour.txt").write_text(HARBOUR_TXT, encoding="utf-8")
    (folder / "market.md").write_text(MARKET_MD, encoding="utf-8")
    return folder


@pytest.fixture
def write(content_dir: Path) -> Callable[[str, str | bytes], Path]:
    """Write one more file into the content folder."""

    def _write(name: str, data: str | bytes) -> Path:
        path = content_dir / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        return path

    return _write
