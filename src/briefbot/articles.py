"""Articles: the Article record, parsing of .txt and .md files, and the Library of a folder."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

from briefbot.errors import ContentError
from briefbot.ports import Clock, utc_now
from briefbot.text import clip_words, split_sentences, visible_text
from briefbot.yaml_keys import DuplicateKey, load_yaml


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
    bullets: tuple[str, ...] = ()  # editor-chosen bullets (front matter), used as they are
    path: Path | None = None
    # The time of day too, when the file gives one (feed items do): same-day articles then
    # sort newest first instead of by id.
    published: dt.datetime | None = None
    digest: str = ""  # content hash, so derived tables can be cached per version
    sentences: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.sentences:
            split = tuple(s for p in self.paragraphs for s in split_sentences(p))
            object.__setattr__(self, "sentences", split)


MAX_ARTICLE_BYTES = 1_000_000
# Body text one article contributes to briefings and Q&A, in characters. The Q&A tables grow with
# the text and an answer scans them: 40 files of 990 KB took the bot from 57 MB to 1.2 GB and
# every answer to 6.6 s. 100,000 characters is about 15,000 words, several times the longest news
# feature, so real articles are never clipped; a longer file is clipped with a warning.
MAX_BODY_CHARS = 100_000
# A headline is one line; a file whose first line is the whole text would drag it everywhere.
MAX_TITLE_CHARS = 300
# A byline is a name or two; the same holds for it, and it is shown under every headline.
MAX_BYLINE_CHARS = 200
# YAML is slow to parse (1 MB of it took 2 s) and front matter is a few keys: a title, a date,
# some tags, a handful of curated answers.
MAX_FRONT_MATTER_CHARS = 64_000
MAX_CURATED_QA = 50  # every question is compared with every entry
MAX_EDITOR_BULLETS = 10  # a briefing is a few lines, not a second article
# Pseudo-filesystems: their files report size 0 (so pass the size check) yet hold process
# secrets (/proc/self/environ has the bot token). Never read from them, whatever links there.
PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"))
ARTICLE_SUFFIXES = (".txt", ".md")  # in any case: Story.TXT is a .txt article
# Notes an editor may keep beside the articles; never served as news.
NOT_ARTICLES = frozenset({"readme", "license", "changelog"})
# What editors, sync tools and file managers leave beside a file: not worth a word in `check`.
_BACKUP_SUFFIXES = frozenset({".bak", ".orig", ".rej", ".swp", ".swo", ".tmp", ".partial"})
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "icon\r"})
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def is_valid_article_id(value: str) -> bool:
    """Ids are file stems: letters, digits, '-', '_', '.'; never a path."""
    return bool(_ID_PATTERN.match(value)) and ".." not in value


def is_article_name(name: str) -> bool:
    """Whether a file of this name in the content folder is read as an article."""
    path = Path(name)
    return (path.suffix.lower() in ARTICLE_SUFFIXES and not name.startswith(".")
            and path.stem.lower() not in NOT_ARTICLES)


def _skip_reason(name: str, is_folder: bool) -> str | None:
    """Why `check` names an entry that is not read as an article; None to pass over it in
    silence (hidden files and folders, editor backups, notes such as README, system files)."""
    path = Path(name)
    if (name.startswith((".", "~")) or name.endswith("~")
            or (name.startswith("#") and name.endswith("#"))
            or path.suffix.lower() in _BACKUP_SUFFIXES or name.lower() in _SYSTEM_FILES
            or path.stem.lower() in NOT_ARTICLES):
        return None
    if is_folder:
        return "a folder; articles in folders inside the content folder are not read"
    shown = " and ".join(ARTICLE_SUFFIXES)
    return f"not an article; only {shown} files are read"


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """An entry of the content folder that is not read as an article, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        """How `check` and the log name it: "notes.docx: skipped: not an article; ..."."""
        return f"{self.path.name}: skipped: {self.reason}"


@dataclass(frozen=True, slots=True)
class ContentProblem:
    """Something wrong with one article file, said so an editor can fix it."""

    path: Path
    message: str
    line: int | None = None
    fatal: bool = True  # True: the file was not loaded; False: loaded, with a gap

    def __str__(self) -> str:
        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        kind = "error" if self.fatal else "warning"
        return f"{where}: {kind}: {self.message}"


class ArticleFileError(ContentError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_DATE_FORMATS = (
    "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y",
    "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%A, %B %d, %Y",
)


def parse_date(value: object) -> dt.date | None:
    """A publication date from text like 'February 11, 2026' or '2026-02-11', else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = " ".join(str(value).replace("Sept ", "Sep ").split()).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ArticleFileError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line
        ) from None
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _parse_txt(article_id: str, text: str) -> tuple[dict[str, object], list[str], list[str]]:
    """The sample format: headline, '- author', '- date', blank line, paragraphs."""
    lines = text.split("\n")
    warnings: list[str] = []
    headline = lines[0].strip()
    if not headline:
        raise ArticleFileError("line 1 must be the headline, but it is empty", 1)
    # A file that starts at its byline would otherwise be served headlined "- Kim Park".
    if headline.startswith(("- ", "– ", "— ")) or headline == "-":
        raise ArticleFileError(
            f"line 1 is a byline ({_shown(headline)!r}), but line 1 must be the headline; "
            "write the headline above it", 1
        )
    if parse_date(headline) is not None:
        raise ArticleFileError(
            f"line 1 is a date ({_shown(headline)!r}), but line 1 must be the headline; "
            "write the headline above it, then '- Author' and '- February 11, 2026'", 1
        )
    meta: dict[str, object] = {"title": headline}
    index = 1
    dashes: list[tuple[int, str]] = []
    while index < len(lines) and len(dashes) < 2 and lines[index].lstrip().startswith("- "):
        dashes.append((index + 1, lines[index].strip()[2:].strip()))
        index += 1
    if len(dashes) == 2:
        meta["author"] = dashes[0][1] or None
        line_no, raw_date = dashes[1]
        date = parse_date(raw_date)
        if date is None:
            warnings.append(
                f"line {line_no}: can't read the date {raw_date!r}; write it like February 11, 2026"
            )
        meta["date"] = date
    elif len(dashes) == 1:
        line_no, value = dashes[0]
        date = parse_date(value)
        if date is not None:
            meta["date"] = date
            warnings.append(f"line {line_no}: no author line; add '- Author Name' before the date")
        else:
            meta["author"] = value or None
            warnings.append(f"line {line_no + 1}: no date line; add '- February 11, 2026' here")
    else:
        warnings.append("line 2: no byline or date; add '- Author' and '- February 11, 2026'")
    paragraphs = [line.strip() for line in lines[index:] if line.strip()]
    return meta, paragraphs, warnings


# Markdown is read the way a renderer shows it (CommonMark, markdown-it-py): entities decoded
# ("Q&amp;A" is "Q&A"), inline HTML tags dropped, links and emphasis reduced to their text. Each
# block (paragraph, heading, list item, quote) is one paragraph, and so is each line a hard
# break or <br> starts: a reader sees them on lines of their own.
_MARKDOWN = MarkdownIt("commonmark", {"html": True})
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Where an HTML block ends a line when a browser shows it.
_HTML_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "pre")


def _inline_lines(children: list[Token]) -> list[str]:
    """The text of one block's inline tokens, as a reader sees it, one string a shown line."""
    lines: list[str] = [""]
    for child in children:
        if child.type in ("text", "code_inline"):
            lines[-1] += child.content
        elif child.type == "softbreak":
            lines[-1] += " "
        elif child.type == "hardbreak" or (
            child.type == "html_inline" and _BREAK_TAG.fullmatch(child.content.strip())
        ):
            lines.append("")
        elif child.type == "image":  # its alt text stands in for it
            lines[-1] += "".join(_inline_lines(child.children or []))
    return [" ".join(line.split()) for line in lines if line.strip()]


def _html_lines(html: str) -> list[str]:
    """The text a browser shows for a block of raw HTML, one string a line."""
    soup = BeautifulSoup(html, "html.parser")
    # A newline in HTML source is only a space; the paragraph separator marks the real breaks.
    for tag in soup.find_all("br"):
        tag.replace_with("\u2029")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.append("\u2029")
    text = soup.get_text()
    return [" ".join(line.split()) for line in text.split("\u2029") if line.strip()]


def markdown_text(source: str) -> str:
    """One line of Markdown (a title, a byline, an editor's bullet) as plain text, one line.

    `Q&amp;A: the <em>mayor&#39;s</em> plan` -> `Q&A: the mayor's plan`.
    """
    tokens = _MARKDOWN.parseInline(source)
    return " ".join(line for token in tokens for line in _inline_lines(token.children or []))


def _markdown_paragraphs(body: str) -> list[str]:
    paragraphs: list[str] = []
    for token in _MARKDOWN.parse(body):
        if token.type == "inline":
            paragraphs.extend(_inline_lines(token.children or []))
        elif token.type == "html_block":
            paragraphs.extend(_html_lines(token.content))
        elif token.type in ("code_block", "fence"):
            # An indented paragraph is a code block to CommonMark; its lines still run on.
            for chunk in re.split(r"\n\s*\n", token.content):
                if chunk.strip():
                    paragraphs.append(" ".join(chunk.split()))
    return paragraphs


def _not_text_title(front: list[str], value: object) -> ArticleFileError:
    """A 'title:' YAML read as something other than text (title: 1984 is a number), said with
    its line (`front` is the front matter's lines, from file line 2) and how to write it."""
    index, written = next(((i, line.split(":", 1)[1].strip()) for i, line in enumerate(front)
                           if re.match(r"title\s*:", line)), (0, ""))
    kinds = ((bool, "true/false"), ((int, float), "a number"), ((dt.date, dt.datetime), "a date"))
    kind = next((name for types, name in kinds if isinstance(value, types)), None)
    if kind is None or not written:
        shape = "a list" if isinstance(value, list) else "not text"
        return ArticleFileError(
            f"'title:' is {shape}; write the headline as one line of text", index + 2)
    return ArticleFileError(f"'title: {written}' is read as {kind}, not text; put it in quotes: "
                            f"title: \"{written}\"", index + 2)


# How each kind of article file begins, for errors about a file that does not.
_TXT_START = "write a headline on line 1"
_MD_START = "a .md article starts with YAML front matter: '---', title: ..., '---'"


def _parse_md(article_id: str, text: str) -> tuple[dict[str, object], list[str], list[str]]:
    """YAML front matter between '---' lines, then Markdown paragraphs."""
    if not text.startswith("---"):
        raise ArticleFileError(_MD_START, 1)
    lines = text.split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise ArticleFileError("the front matter is never closed; add a '---' line after it", 1)
    source = "\n".join(lines[1:end])
    if len(source) > MAX_FRONT_MATTER_CHARS:
        raise ArticleFileError(
            f"the front matter is {len(source):,} characters, over the "
            f"{MAX_FRONT_MATTER_CHARS:,} limit; keep the article's text below the closing '---'", 2
        )
    twice: DuplicateKey | None = None
    try:
        try:
            front = load_yaml(source)
        except DuplicateKey as exc:
            twice = exc  # read as every YAML reader reads it, the last one winning; said below
            front = yaml.safe_load(source)
    except RecursionError:
        raise ArticleFileError("the front matter is nested too deeply to read", 2) from None
    except ValueError as exc:  # YAML read a date-shaped value that is no date (2026-13-01)
        raise _bad_date(lines[1:end], exc) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "bad syntax"
        raise ArticleFileError(f"invalid YAML front matter: {problem}", line) from None
    if not isinstance(front, dict):
        raise ArticleFileError("the front matter must be 'key: value' lines", 2)
    title = front.get("title")
    if isinstance(title, str):
        title = markdown_text(title)
    elif title is not None:
        raise _not_text_title(lines[1:end], title)
    if not isinstance(title, str) or not title:
        raise ArticleFileError("the front matter needs a 'title:'", 2)
    warnings: list[str] = []
    if twice is not None:
        warnings.append(f"'{twice.key}:' is written twice in the front matter (lines "
                        f"{twice.first + 1} and {twice.line + 1}); the last one is used: delete "
                        "the other")
    meta: dict[str, object] = {"title": title}
    if front.get("author") is not None:
        author = _scalar(front["author"])
        if author is None:
            warnings.append("'author:' should be a name; it is ignored")
        meta["author"] = markdown_text(author) if author else None
    if front.get("date") is not None:
        date = parse_date(front["date"]) if _scalar(front["date"]) is not None else None
        if date is None:
            shown = _shown(_scalar(front["date"]) or "(not a date)")
            warnings.append(f"can't read the date {shown!r}; write it like 2026-02-11")
        meta["date"] = date
        if isinstance(front["date"], dt.datetime):
            stamp = front["date"]
            meta["published"] = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    else:
        warnings.append("no 'date:' in the front matter; the article sorts as oldest")
    url = front.get("source_url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            shown = _shown(_scalar(url) or "(not text)")
            warnings.append(f"source_url {shown!r} is not an http(s) link; it is ignored")
        else:
            meta["source_url"] = url
    meta["tags"] = tuple(_texts(front.get("tags"), "tags", warnings))
    bullets = _texts(front.get("bullets"), "bullets", warnings)
    if len(bullets) > MAX_EDITOR_BULLETS:
        warnings.append(f"'bullets:' has {len(bullets)} lines; only the first "
                        f"{MAX_EDITOR_BULLETS} are used")
    meta["bullets"] = tuple(bullets[:MAX_EDITOR_BULLETS])
    meta["qa"] = tuple(_curated(front.get("qa"), warnings))
    return meta, _markdown_paragraphs("\n".join(lines[end + 1 :])), warnings


_YAML_DATE = re.compile(r"^\s*-?\s*([\w-]+)\s*:\s*['\"]?(\d{4}-\d{1,2}-\d{1,2}\S*?)['\"]?\s*$")


def _bad_date(front: list[str], exc: ValueError) -> ArticleFileError:
    """The error for front matter whose YAML date is impossible, naming its line."""
    for number, line in enumerate(front, start=2):
        match = _YAML_DATE.match(line)
        if match is None:
            continue
        key, value = match.groups()
        try:
            dt.date.fromisoformat(value[:10])
        except ValueError:
            return ArticleFileError(
                f"'{key}: {value}' is not a real date ({exc}); write it as year-month-day, "
                f"like '{key}: 2026-02-11'", number
            )
    return ArticleFileError(
        f"the front matter has a value that is not a real date ({exc}); write dates as "
        "year-month-day, like 'date: 2026-02-11'", 2
    )


def _scalar(value: object) -> str | None:
    """A front-matter value as text if it is a plain value, else None.

    Never `str()` or `repr()` of a list or mapping: YAML aliases let a few lines stand for a
    structure of billions of items ("billion laughs"), and printing it would never finish.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | dt.date):
        return str(value)
    return None


def _shown(text: str, limit: int = 60) -> str:
    """`text` short enough to quote in a warning."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _texts(raw: object, key: str, warnings: list[str]) -> list[str]:
    """A front-matter list of plain values as stripped, non-empty lines (one value counts too).

    Nested lists and mappings (which is what aliases expand to) are dropped with a warning.
    """
    if raw is None or raw == "":
        return []
    items = raw if isinstance(raw, list) else [raw]
    texts = [_scalar(item) for item in items]
    if any(text is None for text in texts):
        warnings.append(f"'{key}:' should be a list of lines; entries that are not are ignored")
    lines = (markdown_text(t) for t in texts if t is not None)
    return [line for line in lines if line]


def _curated(raw: object, warnings: list[str]) -> list[CuratedQA]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        warnings.append("'qa:' should be a list of '- q: ...' / 'a: ...' entries; it is ignored")
        return []
    if len(raw) > MAX_CURATED_QA:
        warnings.append(f"'qa:' has {len(raw)} entries; only the first {MAX_CURATED_QA} are used")
    entries: list[CuratedQA] = []
    seen: set[str] = set()
    for number, item in enumerate(raw[:MAX_CURATED_QA], start=1):
        if not isinstance(item, dict) or "q" not in item or "a" not in item:
            warnings.append(f"qa entry {number} needs both 'q:' and 'a:'; it is ignored")
            continue
        questions = item["q"] if isinstance(item["q"], list) else [item["q"]]
        texts = [_scalar(q) for q in questions[:MAX_CURATED_QA]]
        cleaned = tuple(q for q in (markdown_text(t) for t in texts if t) if q)
        answer = markdown_text(_scalar(item["a"]) or "")
        if not cleaned or not answer:
            warnings.append(f"qa entry {number} has an empty question or answer; it is ignored")
            continue
        for question in cleaned:
            if question.lower() in seen:
                warnings.append(f"qa entry {number} repeats the question {question!r}")
            seen.add(question.lower())
        entries.append(CuratedQA(questions=cleaned, answer=answer))
    return entries


_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _is_pseudo(path: Path) -> bool:
    return any(path.is_relative_to(top) for top in PSEUDO_FILESYSTEMS)


def _opened_path(fd: int) -> Path | None:
    """Where an open descriptor really points (Linux); None where the system cannot say."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def _confined_target(path: Path, root: Path) -> Path:
    """`path` fully resolved, if it is a regular file inside `root`; else ArticleFileError.

    A symlink is followed only while it stays inside `root` (a resolved folder): that is how
    Kubernetes ConfigMap volumes and atomic deploys lay files out. One leading out of the folder
    (`passwd.txt -> /etc/passwd`), into /proc or /sys, in a loop, or dangling is refused.
    """
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        if path.is_symlink():
            raise ArticleFileError(
                f"is a symlink to {os.readlink(path)}, which does not exist; fix or delete the link"
            ) from None
        raise ArticleFileError("the file vanished while it was being read") from None
    except RuntimeError:  # Python 3.11-3.12 report a symlink loop this way
        raise ArticleFileError("is a symlink loop; delete the link") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArticleFileError("is a symlink loop; delete the link") from None
        raise ArticleFileError(f"cannot read the file ({exc.strerror})") from None
    if _is_pseudo(target) or not target.is_relative_to(root):
        raise ArticleFileError(
            f"is a symlink to {target}, outside the content folder; it is not served. "
            "Copy the file into the folder instead"
        )
    return target


def _read_confined(path: Path, root: Path) -> bytes:
    """The bytes of the regular file `path` inside `root`, at most MAX_ARTICLE_BYTES.

    Checked again on the open descriptor, so a file swapped for a symlink, a FIFO or a device
    between the folder scan and this read is refused rather than followed or waited on.
    """
    target = _confined_target(path, root)
    try:
        kind = _not_regular(os.stat(target).st_mode)
    except OSError:
        kind = None  # the open below says what is wrong
    if kind is not None:
        raise ArticleFileError(f"is {kind}, not a regular file; it is not served")
    # O_NOFOLLOW: the last component may not have become a symlink since it was resolved.
    # O_NONBLOCK: opening a FIFO swapped in meanwhile must not wait for a writer.
    # (Both POSIX; where missing, only the checks on the descriptor below apply.)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        raise ArticleFileError("the file vanished while it was being read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArticleFileError(
                "was replaced by a symlink while it was being read; it is not served"
            ) from None
        raise ArticleFileError(f"cannot read the file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        kind = _not_regular(info.st_mode)
        if kind is not None:
            raise ArticleFileError(f"is {kind}, not a regular file; it is not served")
        opened = _opened_path(fd)
        if opened is not None and (_is_pseudo(opened) or not opened.is_relative_to(root)):
            raise ArticleFileError(
                f"resolves to {opened}, outside the content folder; it is not served"
            )
        if info.st_size > MAX_ARTICLE_BYTES:
            raise ArticleFileError(
                f"the file is {info.st_size:,} bytes, over the {MAX_ARTICLE_BYTES:,} limit; "
                "split it"
            )
        # Never trust the size: read at most one byte past the cap, whatever the file claims.
        chunks: list[bytes] = []
        left = MAX_ARTICLE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ArticleFileError(f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _clip_body(paragraphs: list[str]) -> tuple[list[str], int]:
    """The paragraphs cut to MAX_BODY_CHARS characters in all, and the length before the cut."""
    total = sum(len(p) for p in paragraphs)
    if total <= MAX_BODY_CHARS:
        return paragraphs, total
    kept: list[str] = []
    room = MAX_BODY_CHARS
    for paragraph in paragraphs:
        if room <= 0:
            break
        kept.append(paragraph[:room])
        room -= len(paragraph)
    return kept, total


def parse_article(path: Path, root: Path | None = None) -> tuple[Article, list[ContentProblem]]:
    """Read one article file confined to `root` (default: the file's own folder), resolved.

    Only a regular file whose resolved path lies inside `root` is read, at most
    MAX_ARTICLE_BYTES of it; the body is clipped to MAX_BODY_CHARS characters (with a warning).
    Raises ArticleFileError when the file cannot be used at all.
    """
    root = (root or path.parent).resolve()
    data = _read_confined(path, root)
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleFileError(f"the file is over the {MAX_ARTICLE_BYTES:,} byte limit; split it")
    text = _decode(path, data)
    is_md = path.suffix.lower() == ".md"
    if not text.strip():
        raise ArticleFileError("the file is empty; " + (_MD_START if is_md else _TXT_START), 1)
    parser = _parse_md if is_md else _parse_txt
    meta, paragraphs, warnings = parser(path.stem, text)
    problems = [_warning(path, w) for w in warnings]
    if not paragraphs:
        problems.append(ContentProblem(path, "the article has no body text", None, fatal=False))
    paragraphs, length = _clip_body(paragraphs)
    if length > MAX_BODY_CHARS:
        problems.append(ContentProblem(
            path, f"the body is {length:,} characters; briefings and answers use only the first "
            f"{MAX_BODY_CHARS:,}. Split it into several articles", None, fatal=False,
        ))
    paragraphs = [visible_text(p) for p in paragraphs]
    title = visible_text(str(meta["title"]))
    if len(title) > MAX_TITLE_CHARS:
        problems.append(ContentProblem(
            path, f"the headline is {len(title):,} characters; it is cut to {MAX_TITLE_CHARS}. "
            "Put the text after a blank line", 1, fatal=False,
        ))
        title = clip_words(title, MAX_TITLE_CHARS)
    author = _opt_str(meta.get("author"))
    author = visible_text(author) if author is not None else None
    if author is not None and len(author) > MAX_BYLINE_CHARS:
        problems.append(ContentProblem(
            path, f"the author is {len(author):,} characters; it is cut to {MAX_BYLINE_CHARS}. "
            "Write only the name there", 2 if path.suffix.lower() == ".txt" else None,
            fatal=False,
        ))
        author = clip_words(author, MAX_BYLINE_CHARS)
    article = Article(
        id=path.stem,
        title=title,
        author=author,
        date=meta.get("date") if isinstance(meta.get("date"), dt.date) else None,  # type: ignore[arg-type]
        paragraphs=tuple(paragraphs),
        source_url=_opt_str(meta.get("source_url")),
        tags=meta.get("tags", ()),  # type: ignore[arg-type]
        qa=meta.get("qa", ()),  # type: ignore[arg-type]
        bullets=meta.get("bullets", ()),  # type: ignore[arg-type]
        path=path,
        published=meta.get("published"),  # type: ignore[arg-type]
        digest=hashlib.sha256(data).hexdigest(),
    )
    return article, problems


def _opt_str(value: object) -> str | None:
    return str(value) if value else None


def _warning(path: Path, text: str) -> ContentProblem:
    match = re.match(r"line (\d+): (.*)", text)
    if match:
        return ContentProblem(path, match.group(2), int(match.group(1)), fatal=False)
    return ContentProblem(path, text, None, fatal=False)


def _sort_key(article: Article) -> tuple[int, dt.date, float, str]:
    # Newest first: dated articles by date (descending), within a day by time when known,
    # then undated ones; ties by id.
    at = -article.published.timestamp() if article.published is not None else 0.0
    return (0 if article.date else 1, _negate(article.date), at, article.id)


# The earliest offset in use (Kiribati, UTC+14): a date starts there first.
_EARLIEST_OFFSET = dt.timedelta(hours=14)
FUTURE_SLACK = dt.timedelta(days=1)


def _too_far_ahead(article: Article, now: dt.datetime) -> bool:
    """Whether the article is dated more than a day after `now`, wherever the editor is: its
    time when the file gives one, else the first moment its date begins anywhere."""
    if article.published is not None:
        return article.published - now > FUTURE_SLACK
    if article.date is None:
        return False
    midnight = dt.datetime.combine(article.date, dt.time(), tzinfo=dt.UTC)
    return midnight > now + FUTURE_SLACK + _EARLIEST_OFFSET  # no arithmetic near year 1


def _future_date(article: Article) -> ContentProblem:
    # No "today" in the text: the same problem each rescan is logged once (App.load_content).
    shown = article.date.isoformat() if article.date is not None else "?"
    return ContentProblem(
        article.path or Path(article.id),
        f"the date {shown} is more than a day ahead, so this article is the newest until "
        "then; fix the date if it is a typo", fatal=False,
    )


def _negate(date: dt.date | None) -> dt.date:
    if date is None:
        return dt.date.max
    return dt.date.fromordinal(dt.date.max.toordinal() - date.toordinal() + 1)


@dataclass(frozen=True, slots=True)
class ReloadReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    problems: tuple[ContentProblem, ...] = ()

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _resolve_folder(folder: Path) -> tuple[Path, ContentProblem | None]:
    """The content folder resolved (it may be a symlink), or why it cannot hold articles."""
    try:
        root = folder.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return folder, ContentProblem(
            folder, "the content folder is a symlink loop; point content_dir at a folder"
        )
    if not root.is_dir():
        return root, ContentProblem(
            folder, "the content folder does not exist; create it or set content_dir"
        )
    if _is_pseudo(root):
        return root, ContentProblem(
            folder, f"the content folder is {root}, a system folder, not articles; "
            "set content_dir to a folder of article files"
        )
    return root, None


# What tells a changed entry from an unchanged one: the entry itself (a file swapped for a
# symlink is a new inode) and, through a symlink, what it points at (0s when that is unreadable).
Stamp = tuple[int, int, int, int, int]


# The file an entry resolves to: its path, and its identity on disk (device, inode), which hard
# links to one file share.
RealFile = tuple[Path, tuple[int, int]]


def _real_file(path: Path, root: Path) -> RealFile | None:
    """The file `path` resolves to (itself, unless it is a symlink) when that lies inside
    `root`; None when it cannot be resolved or lies outside (`parse_article` says why)."""
    try:
        real = path.resolve(strict=True)
        seen = real.stat()
    except (OSError, RuntimeError):  # gone, dangling, a loop (RuntimeError before 3.13)
        return None
    if not real.is_relative_to(root) or _is_pseudo(real):
        return None
    return real, (seen.st_dev, seen.st_ino)


def _same_file_as(names: list[tuple[Path, Path]]) -> Path:
    """Which of several entries (entry, the path it resolves to) naming one file is read: the
    file itself (of hard links, the first by name), else the link named like it (a ConfigMap's
    `seed.txt -> ..data/seed.txt`), else the first by name. The same one every scan, whatever
    order the folder lists them in."""
    path, _ = min(names, key=lambda entry: (entry[0] != entry[1], entry[0].name != entry[1].name,
                                            entry[0].name))
    return path


def _stamp(path: Path) -> Stamp | None:
    """The entry's identity and version; None when it vanished since the folder was listed."""
    try:
        own = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return (0, 0, 0, 0, 0)
    if not stat.S_ISLNK(own.st_mode):
        return (own.st_ino, own.st_mtime_ns, own.st_size, 0, 0)
    try:
        seen = os.stat(path)
    except OSError:  # dangling, a loop: parse_article says which
        return (own.st_ino, own.st_mtime_ns, 0, 0, 0)
    return (own.st_ino, own.st_mtime_ns, seen.st_ino, seen.st_mtime_ns, seen.st_size)


# One scanned entry: its stamp, what reading it gave, and the file it resolves to inside the
# folder (None: it does not resolve to one; its problem says why).
_Entry = tuple[Stamp, Article | None, list[ContentProblem], RealFile | None]


class Library:
    """The articles of one folder, newest first; `reload()` picks up added/changed/removed files."""

    def __init__(self, folder: Path, *, clock: Clock = utc_now) -> None:
        self.folder = folder
        self._clock = clock  # what "a date far ahead" is measured from, each scan
        self._entries: dict[Path, _Entry] = {}
        self._articles: tuple[Article, ...] = ()
        self._by_id: dict[str, Article] = {}
        self._problems: tuple[ContentProblem, ...] = ()
        self._listed_skips: tuple[SkippedFile, ...] = ()  # not named like articles
        self._skipped: tuple[SkippedFile, ...] = ()  # those, and second names of one file
        self.version = 0

    @property
    def articles(self) -> tuple[Article, ...]:
        return self._articles

    @property
    def problems(self) -> tuple[ContentProblem, ...]:
        return self._problems

    @property
    def skipped(self) -> tuple[SkippedFile, ...]:
        """The entries the last scan did not read as articles, and why (see `_skip_reason`;
        a second name of one file, a symlink to another article, says which), by name."""
        return self._skipped

    def find(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def latest(self) -> Article | None:
        return self._articles[0] if self._articles else None

    def _files(self, root: Path) -> list[Path]:
        """Every entry of `root` named like an article, whatever it is: files, links, pipes.

        Nothing is opened or followed here; `parse_article` refuses what may not be served, so
        `check` can name each entry it skipped and why. The other entries worth a word are
        kept in `skipped`.
        """
        try:
            with os.scandir(root) as entries:
                names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
        except FileNotFoundError:
            names = []
        skipped = ((root / name, _skip_reason(name, folder)) for name, folder in names
                   if not is_article_name(name))
        self._listed_skips = tuple(SkippedFile(path, reason) for path, reason in sorted(skipped)
                                   if reason is not None)
        return sorted(root / name for name, _ in names if is_article_name(name))

    def _served(self) -> dict[str, tuple[Path | None, str]]:
        """Id -> (file, content hash) of each article served: a second file with a served id,
        or a second name of one file, is not (readers never get it, so it is never news)."""
        return {article.id: (article.path, article.digest) for article in self._by_id.values()}

    def reload(self) -> ReloadReport:
        """Rescan the folder; re-read only files whose size or modification time changed.

        The folder is resolved once a scan (it may itself be a symlink); every file is read
        confined to it, see `parse_article`.
        """
        before = self._served()
        root, folder_problem = _resolve_folder(self.folder)
        if folder_problem is not None:
            self._entries.clear()
            self._listed_skips = ()
            self._publish([folder_problem])
            return ReloadReport(removed=tuple(sorted(before)), problems=(folder_problem,))
        seen: set[Path] = set()
        for path in self._files(root):
            seen.add(path)
            stamp = _stamp(path)
            if stamp is None:
                continue
            cached = self._entries.get(path)
            if cached is not None and cached[0] == stamp:
                continue
            real = _real_file(path, root)
            try:
                article, problems = parse_article(path, root)
                self._entries[path] = (stamp, article, problems, real)
            except ArticleFileError as exc:
                problem = ContentProblem(path, exc.message, exc.line)
                self._entries[path] = (stamp, None, [problem], real)
            except Exception as exc:  # a parser's own failure must not stop the other files
                problem = ContentProblem(
                    path, f"could not be read ({type(exc).__name__}); check its structure"
                )
                self._entries[path] = (stamp, None, [problem], real)
        for gone in set(self._entries) - seen:
            del self._entries[gone]
        self._publish([])
        after = self._served()
        added = tuple(sorted(after.keys() - before.keys()))
        removed = tuple(sorted(before.keys() - after.keys()))
        changed = tuple(sorted(i for i in after.keys() & before.keys() if after[i] != before[i]))
        report = ReloadReport(added, changed, removed, self._problems)
        if report.changed_anything:
            self.version += 1
        return report

    def _find_doubles(self) -> dict[Path, Path]:
        """Each entry that is a second name of a file another entry is read for (a symlink or a
        hard link to an article in the folder) -> that entry (`_same_file_as` picks it)."""
        names: dict[tuple[int, int], list[tuple[Path, Path]]] = {}
        for path, (_, _, _, real) in self._entries.items():
            if real is not None:
                names.setdefault(real[1], []).append((path, real[0]))
        doubles: dict[Path, Path] = {}
        for entries in names.values():
            read = _same_file_as(entries)
            doubles.update((path, read) for path, _ in entries if path != read)
        return doubles

    def _publish(self, problems: list[ContentProblem]) -> None:
        # One file is one article, whatever links name it: the other names are skipped, said
        # why, and their problems (the file's own, under another name) are not said twice.
        doubles = self._find_doubles()
        self._skipped = tuple(sorted(
            self._listed_skips + tuple(
                SkippedFile(path, f"same file as {read.name}; a file is read once, under one name")
                for path, read in doubles.items()),
            key=lambda skipped: skipped.path))
        by_id: dict[str, Article] = {}
        for path, (_, article, file_problems, _) in sorted(self._entries.items()):
            if path in doubles:
                continue
            problems.extend(file_problems)
            if article is None:
                continue
            if article.id in by_id:
                # The first in sort order is served; the problem is filed under the file left
                # out, and names both (logged once while both stay, see App.load_content).
                first = by_id[article.id].path
                served = first.name if first is not None else article.id
                problems.append(ContentProblem(
                    path,
                    f"{served} and {path.name} both have the id {article.id!r}; {served} is "
                    f"served, {path.name} is not. Rename one of them",
                ))
                continue
            by_id[article.id] = article
        # A date far ahead (9999-12-31) keeps its article the newest until then: served, but
        # said, while the date is ahead; measured each scan, not when the file was read.
        now = self._clock()
        problems.extend(_future_date(a) for a in by_id.values() if _too_far_ahead(a, now))
        self._by_id = by_id
        self._articles = tuple(sorted(by_id.values(), key=_sort_key))
        self._problems = tuple(problems)
