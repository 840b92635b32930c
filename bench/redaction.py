"""Time log redaction on long inputs: the old unanchored token patterns against the current ones.

Usage: python bench/redaction.py [--size 100000] [--skip-before]
Prints seconds per `redact` call for `size` characters of "x", of digits, and microseconds for a
realistic httpx request line holding a Telegram token. "before" runs the patterns logs.py used
until the redaction was anchored (quadratic on long runs: 100 KB of "x" took about 15 s, 100 KB
of digits about 57 s), so the comparison can be rerun; --skip-before leaves those out.
Target: redacting 100 KB of anything in well under 0.1 s.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from briefbot.logs import REDACTED, RedactingFilter

TOKEN = "123456789:AAHfakeTokenForBenchOnly_abcdefghijk"
LINE = (f'HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates '
        '"HTTP/1.1 200 OK"')
# The patterns as they were before they were anchored, kept here only to measure against.
_BEFORE = (
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}"),
    re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}"),
)


def _before(text: str) -> str:
    text = text.replace(TOKEN, REDACTED)
    for pattern in _BEFORE:
        text = pattern.sub(REDACTED, text)
    return text


def _seconds(redact: Callable[[str], str], text: str, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        redact(text)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="characters of each long input")
    parser.add_argument("--skip-before", action="store_true", help="time the current code only")
    args = parser.parse_args()
    after = RedactingFilter([TOKEN]).redact
    assert TOKEN not in after(LINE) and after(LINE) == _before(LINE)
    cases = (("x" * args.size, f"{args.size:,} x", 1),
             ("7" * args.size, f"{args.size:,} digits", 1))
    print(f"{'input':<22}{'before':>14}{'after':>14}")
    for text, label, repeat in cases:
        old = "-" if args.skip_before else f"{_seconds(_before, text, repeat):.3f} s"
        print(f"{label:<22}{old:>14}{_seconds(after, text, 20):>12.4f} s")
    old_line = "-" if args.skip_before else f"{_seconds(_before, LINE, 20_000) * 1e6:.1f} us"
    print(f"{'httpx line':<22}{old_line:>14}{_seconds(after, LINE, 20_000) * 1e6:>11.1f} us")


if __name__ == "__main__":
    main()
