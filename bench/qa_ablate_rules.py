"""Ablate the Q&A's rule stages one at a time: does each earn its place on the check split?

Usage: python bench/qa_ablate_rules.py [--embeddings] [--only NAME,NAME]

For each rule stage of briefbot.qa.table (listed in STAGES) the stage is switched off by
replacing it from here (briefbot's code has no switches for this), the scorer is refitted on the
tune split as bench/qa_train.py fits it, its threshold chosen on the check split, and the check
split's figures are printed beside the full engine's: answerable right %, unanswerable declined %
and the number of questions with a right reply (each question counts once). A stage whose
removal does not lower that number is not earning its place on articles it was not tuned on.
Default install (no embeddings) unless --embeddings. The check split is read in aggregate only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import qa_train  # noqa: E402
from qa_train import best_threshold, collect, fit, outcome, predict, rank  # noqa: E402

from briefbot.qa import embed, table  # noqa: E402


def _no_slot_skipping(q: Any, missing: Any) -> bool:
    return False


def _never(*args: Any, **kwargs: Any) -> None:
    return None


def _nothing(*args: Any, **kwargs: Any) -> list[Any]:
    return []


# name -> (what it does, [(module, attribute, replacement)])
STAGES: dict[str, tuple[str, list[tuple[Any, str, Any]]]] = {
    "skip_missing_verb": ("a verb the article lacks is skipped when the rest pins the sentence",
                          [(table, "_skippable", _no_slot_skipping)]),
    "describe": ('"who is X": the appositive or title the article gives X',
                 [(table.QATable, "_describe", _never)]),
    "quote_answer": ('"what did X say": a sentence quoting X, direct quotes first',
                     [(table.QATable, "_quote_answer", _never)]),
    "names_filter": ("a sentence must mention the names the question asks about",
                     [(table.QATable, "_named", _nothing)]),
    "verb_filter": ('"who discovered X": the sentence must say the verb',
                    [(table.QATable, "_asked_verb", _never)]),
    "opposites": ("asked when X closes, a sentence saying when it opens is skipped",
                  [(table.QATable, "_opposites", lambda self, q: set())]),
    "antonyms": ("asked how many finished, a sentence counting who started is skipped",
                 [(table, "_ANTONYMS", {})]),
    "synonyms": ("data/synonyms.txt word groups",
                 [(table, "_SYNONYMS", {})]),
    "split_phrases": ("a two-word phrase the article lacks is split into its words",
                      [(table, "_split_phrases", lambda q, resolved: q.slots)]),
}


@contextmanager
def ablated(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def figures() -> tuple[float, float, int, int]:
    tune, check = collect("tune"), collect("check")
    full = [True] * len(rank.FEATURES)
    if embed.get_embedder() is None:
        full = [f not in qa_train.GROUPS["embeddings"] for f in rank.FEATURES]
    choices = predict(check, fit(tune, full, 1.0))
    threshold, answerable, declined = best_threshold(check, choices)
    right = sum(outcome(r, c, threshold) for r, c in zip(check, choices, strict=True))
    return answerable, declined, right, len(check)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    if not args.embeddings:
        embed._embedder, embed._tried = None, True
    table.USE_SCORER = False
    run: Callable[[], tuple[float, float, int, int]] = figures
    a0, d0, r0, n = run()
    install = "with embeddings" if args.embeddings else "default install"
    print(f"check split, {install}: full engine answerable {a0:.1f}%  declined {d0:.1f}%  "
          f"right replies {r0}/{n}")
    names = [s for s in args.only.split(",") if s] or list(STAGES)
    for name in names:
        what, patches = STAGES[name]
        with ablated(patches):
            a, d, r, _ = run()
        print(f"  without {name:<18} answerable {a:5.1f}%  declined {d:5.1f}%  right {r:>3} "
              f"({r - r0:+d})  {what}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
