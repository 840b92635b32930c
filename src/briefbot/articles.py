"""Articles: the Article record, parsing of .txt and .md files, and the Library of a folder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from briefbot.text import split_sentences


@dataclass(frozen=True, slots=True)
class CuratedQA:
    """An editor-written answer from front matter: any of `questions` gets `answer`."""

    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, as read from a file in the content folder."""

    id: str
    title: str  # the headline as written (may be all caps, may end with emoji)
    author: str | None
    date: dt.date | None
    paragraphs: tuple[str, ...]
    source_url: str | None = None
    tags: tuple[str, ...] = ()
    qa: tuple[CuratedQA, ...] = ()
    bullets: tuple[str, ...] = ()  # editor-chosen bullets (front matter), used instead of picked ones
    path: Path | None = None
    digest: str = ""  # content hash, so derived tables can be cached per version
    sentences: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.sentences:
            split = tuple(s for p in self.paragraphs for s in split_sentences(p))
            object.__setattr__(self, "sentences", split)
