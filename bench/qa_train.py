"""Fit the Q&A engine's found/not-found decision: logistic regression on general answer features.

Usage: python bench/qa_train.py [--write] [--l2 L2]

Reads every labelled question except bench/qa_holdout/unseen_* (those stay an unseen check): the
dev set (../shared/eval/dev) and the tune/check/fresh hold-out articles. For each question the
engine's answer before the decision (QATable.candidate) is labelled right (it contains an accept
string) or wrong (any answer to an unanswerable question is wrong). Only answers the hand rules
let through are decided by the model; the rest keep their outcome.

The decision threshold is chosen on leave-articles-out cross-validation: each article's answers
are scored by a model fitted on the other articles, and the threshold that maximises answerable
right % + unanswerable declined % over those held-out scores is kept (ties: the lower threshold,
so answers are not given up for nothing). Prints the cross-validated figures beside the hand rules
alone. --write puts the weights (fitted on everything) and the threshold into
src/briefbot/qa/decision.py, only if they beat the hand rules alone by --margin points (default 2;
one of ~50 unanswerable questions is 1.9).
Pure Python: Newton's method with an L2 penalty on a handful of features.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from briefbot import qa  # noqa: E402
from briefbot.articles import parse_article  # noqa: E402

SOURCES = (REPO.parent / "shared" / "eval" / "dev", REPO / "bench" / "qa_holdout")
UNSEEN = "unseen_"


@dataclass
class Row:
    article: str
    kind: str  # the question's labelled kind; "unanswerable" must decline
    found: bool  # before the decision
    right: bool  # the answer (found or not) scores as right before the decision
    features: list[float] | None  # None: the decision does not apply


def collect() -> list[Row]:
    rows: list[Row] = []
    for folder in SOURCES:
        items = yaml.safe_load((folder / "questions.yaml").read_text(encoding="utf-8"))
        tables: dict[str, qa.QATable] = {}
        for item in items:
            name = str(item["article"])
            if name.startswith(UNSEEN):
                continue
            if name not in tables:
                tables[name] = qa.QATable(parse_article(folder / name)[0])
            reply, features = tables[name].candidate(str(item["q"]))
            kind = str(item["kind"])
            accept = [str(a).lower() for a in item["accept"] or []]
            if kind == "unanswerable":
                right = not reply.found
            else:
                right = reply.found and any(a in reply.text.lower() for a in accept)
            rows.append(Row(f"{folder.name}/{name}", kind, reply.found, right, features))
    return rows


def fit(xs: list[list[float]], ys: list[float], l2: float) -> list[float]:
    """Logistic regression by Newton's method; the bias (feature 0) is not penalised."""
    n = len(xs[0])
    w = [0.0] * n
    for _ in range(25):
        grad = [(l2 * w[j] if j else 0.0) for j in range(n)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(n)] for i in range(n)]
        for x, y in zip(xs, ys, strict=True):
            p = _sigmoid(sum(a * b for a, b in zip(w, x, strict=True)))
            g = p - y
            h = max(p * (1 - p), 1e-6)
            for i in range(n):
                if x[i]:
                    grad[i] += g * x[i]
                    hx = h * x[i]
                    row = hess[i]
                    for j in range(n):
                        if x[j]:
                            row[j] += hx * x[j]
        for i in range(n):
            hess[i][i] += 1e-6
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return w


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[r][col]:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def figures(rows: list[Row], probs: dict[int, float], threshold: float) -> tuple[float, float]:
    """(answerable right %, unanswerable declined %) when answers below threshold decline."""
    tally = {True: [0, 0], False: [0, 0]}
    for i, row in enumerate(rows):
        unanswerable = row.kind == "unanswerable"
        ok = row.right
        if i in probs and probs[i] < threshold:
            ok = unanswerable  # declined: right only if it had to
        tally[unanswerable][0] += ok
        tally[unanswerable][1] += 1
    return (100 * tally[False][0] / max(tally[False][1], 1),
            100 * tally[True][0] / max(tally[True][1], 1))


def cross_validate(rows: list[Row], l2: float) -> dict[int, float]:
    decided = [i for i, r in enumerate(rows) if r.features is not None]
    by_article: dict[str, list[int]] = defaultdict(list)
    for i in decided:
        by_article[rows[i].article].append(i)
    probs: dict[int, float] = {}
    for article, held in by_article.items():
        train = [i for i in decided if rows[i].article != article]
        w = fit([rows[i].features or [] for i in train], [float(rows[i].right) for i in train], l2)
        for i in held:
            x = rows[i].features or []
            probs[i] = _sigmoid(sum(a * b for a, b in zip(w, x, strict=True)))
    return probs


def best_threshold(rows: list[Row], probs: dict[int, float]) -> tuple[float, float, float]:
    best = (0.0, *figures(rows, probs, 0.0))
    for step in range(1, 20):
        t = step / 20
        answered, declined = figures(rows, probs, t)
        if answered + declined > best[1] + best[2] + 1e-9:
            best = (t, answered, declined)
    return best


def write(weights: list[float], threshold: float) -> None:
    path = REPO / "src" / "briefbot" / "qa" / "decision.py"
    text = path.read_text(encoding="utf-8")
    numbers = ", ".join(f"{w:.3f}" for w in weights)
    text = re.sub(r"WEIGHTS: tuple\[float, \.\.\.\] = \([^)]*\)(?: \* len\(FEATURES\))?",
                  f"WEIGHTS: tuple[float, ...] = ({numbers})", text, count=1)
    text = re.sub(r"DECISION_THRESHOLD = [\d.]+", f"DECISION_THRESHOLD = {threshold:.2f}", text,
                  count=1)
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="store weights and threshold in qa/decision.py")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the weights")
    parser.add_argument("--margin", type=float, default=2.0,
                        help="points (answerable %% + declined %%) it must beat the hand rules by")
    args = parser.parse_args()

    saved = qa.WEIGHTS, qa.DECISION_THRESHOLD
    rows = collect()
    decided = [r for r in rows if r.features is not None]
    wrong = sum(1 for r in decided if not r.right)
    print(f"{len(rows)} questions, {len(decided)} answers the decision applies to "
          f"({wrong} of them wrong), {len({r.article for r in rows})} articles")
    base = figures(rows, {}, 0.0)
    print(f"hand rules alone:           answerable right {base[0]:.1f}%  declined {base[1]:.1f}%")
    probs = cross_validate(rows, args.l2)
    threshold, answered, declined = best_threshold(rows, probs)
    print(f"leave-articles-out, t={threshold:.2f}: answerable right {answered:.1f}%  "
          f"declined {declined:.1f}%")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        a, d = figures(rows, probs, t)
        print(f"    t={t:.2f}: answerable right {a:.1f}%  declined {d:.1f}%")
    groups = ("dev", "qa_holdout/tune", "qa_holdout/check", "qa_holdout/fresh")
    for group in groups:
        idx = [i for i, r in enumerate(rows) if r.article.startswith(group)]
        sub = [rows[i] for i in idx]
        sub_probs = {k: probs[i] for k, i in enumerate(idx) if i in probs}
        before, after = figures(sub, {}, 0.0), figures(sub, sub_probs, threshold)
        print(f"  {group:<18} before {before[0]:5.1f}% / {before[1]:5.1f}%   "
              f"cross-validated after {after[0]:5.1f}% / {after[1]:5.1f}%")
    weights = fit([r.features or [] for r in decided], [float(r.right) for r in decided], args.l2)
    for name, w in zip(qa.FEATURES, weights, strict=True):
        print(f"  {name:<20}{w:+.3f}")
    if args.write:
        if answered + declined < base[0] + base[1] + args.margin:
            print("the learned decision does not beat the hand rules: nothing written (the "
                  "engine keeps WEIGHTS at zero and DECISION_THRESHOLD 0, which turns it off)")
        else:
            write(weights, threshold)
            print("written to src/briefbot/qa/decision.py")
    qa.WEIGHTS, qa.DECISION_THRESHOLD = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
