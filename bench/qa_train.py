"""Fit the Q&A scorer: logistic regression over rank.FEATURES, threshold chosen on the check split.

Usage: python bench/qa_train.py [--write] [--ablate] [--c C]

For every question of the tune split (bench/qa_holdout/splits.yaml) each candidate sentence the
engine considers (briefbot.qa.rank.candidates) is one row: its features, and whether the answer
built from it holds an accept string (any answer to an unanswerable question is wrong). A
logistic model (scikit-learn, training time only) learns P(right). A question is answered with
its most probable candidate, or declined below a threshold.

Prints, beside the rule stages alone: leave-articles-out cross-validation on tune, and the check
split with the threshold chosen there: the one giving the most questions a right reply (the check
split is read only in aggregate), and on check the ranking's top-1 and the decision's AUC.
--ablate refits without each feature group and prints the check figures, so a feature stays
only while it pays. --write stores weights fitted on all of tune and the
check-chosen threshold in src/briefbot/data/qa_weights_embeddings.json (all features) and
qa_weights.json (without the embedding features, for installs without the embeddings extra);
qa/rank.py reads them at run time.
The untouched split is never read here: bench/qa_eval.py --split untouched reports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from briefbot.articles import parse_article  # noqa: E402
from briefbot.qa import embed, rank, table  # noqa: E402
from briefbot.qa.questions import parse_question  # noqa: E402
from briefbot.qa.table import QATable  # noqa: E402

DEV = REPO.parent / "shared" / "eval" / "dev"
HOLDOUT = REPO / "bench" / "qa_holdout"
WEIGHTS = REPO / "src" / "briefbot" / "data" / "qa_weights.json"  # and qa_weights_embeddings


@dataclass
class Row:
    article: str
    kind: str
    unanswerable: bool
    fixed: bool | None  # outcome when the scorer does not apply (editor entry, byline, date)
    rules_right: bool  # the rule stages' own outcome
    candidates: list[tuple[list[float], bool]]  # (features, right if answered with it)


def split_items(name: str) -> list[tuple[Path, dict[str, object]]]:
    """(article path, question item) for every question of split `name`."""
    splits = yaml.safe_load((HOLDOUT / "splits.yaml").read_text(encoding="utf-8"))
    prefixes = [str(p) for p in splits[name]]
    items: list[tuple[Path, dict[str, object]]] = []
    if "dev:" in prefixes and (DEV / "questions.yaml").exists():
        for item in yaml.safe_load((DEV / "questions.yaml").read_text(encoding="utf-8")):
            items.append((DEV / str(item["article"]), item))
    held = yaml.safe_load((HOLDOUT / "questions.yaml").read_text(encoding="utf-8"))
    for item in held:
        if str(item["article"]).startswith(tuple(p for p in prefixes if p != "dev:")):
            items.append((HOLDOUT / str(item["article"]), item))
    return items


NAMED_SPLITS = ("tune", "check", "untouched", "sealed")


def questions_by_article(split: str, eval_dir: Path
                         ) -> tuple[dict[str, list[dict[str, object]]], dict[str, Path]]:
    """The question items of a named split (NAMED_SPLITS), or of the articles in `eval_dir`
    whose file names start with any comma-separated prefix in `split`, grouped by article
    file name, and the folder each article file is in."""
    by_article: dict[str, list[dict[str, object]]] = defaultdict(list)
    folder_of: dict[str, Path] = {}
    if split in NAMED_SPLITS:
        for path, item in split_items(split):
            by_article[path.name].append(item)
            folder_of[path.name] = path.parent
        return by_article, folder_of
    items = yaml.safe_load((eval_dir / "questions.yaml").read_text(encoding="utf-8"))
    for item in items:
        if str(item["article"]).startswith(tuple(split.split(","))):
            by_article[str(item["article"])].append(item)
            folder_of[str(item["article"])] = eval_dir
    return by_article, folder_of


def _right(text: str, accept: list[str]) -> bool:
    low = text[:300].lower()
    return any(a in low for a in accept)


def collect(name: str) -> list[Row]:
    tables: dict[Path, QATable] = {}
    rows: list[Row] = []
    for path, item in split_items(name):
        if path not in tables:
            tables[path] = QATable(parse_article(path)[0])
        t = tables[path]
        kind = str(item["kind"])
        unanswerable = kind == "unanswerable"
        accept = [str(a).lower() for a in item.get("accept") or []]  # type: ignore[attr-defined]
        q = parse_question(str(item["q"]))
        reply, staged = t._candidate(q)
        rules_right = (not reply.found) if unanswerable else (
            reply.found and _right(reply.text, accept))
        fixed: bool | None = None
        cands: list[tuple[list[float], bool]] = []
        if not staged or not reply.found:
            fixed = rules_right  # the scorer re-ranks and vetoes found answers only
        else:
            sentences = t._tag().sentences
            for c in t.candidate_features(q, reply):
                if reply.found and reply.source == sentences[c.index].text:
                    text = reply.text
                else:
                    text = t._from_sentence(q, c.index).text
                cands.append((c.features, (not unanswerable) and _right(text, accept)))
        rows.append(Row(path.name, kind, unanswerable, fixed, rules_right, cands))
    return rows


Model = tuple[list[float], list[float]]  # (rank weights, decision weights)


def decide(row: Row, model: Model) -> tuple[int, float]:
    scorer = rank.Scorer(tuple(model[0]), tuple(model[1]), 0.5, "")
    return scorer.choose([f for f, _ in row.candidates])


def outcome(row: Row, choice: tuple[int, float] | None, threshold: float) -> bool:
    if row.fixed is not None:
        return row.fixed
    if choice is None:
        return row.unanswerable
    best, confidence = choice
    answered = confidence >= threshold
    if row.unanswerable:
        return not answered
    return answered and row.candidates[best][1]


Choices = list[tuple[int, float] | None]


def score(rows: list[Row], choices: Choices, threshold: float) -> tuple[float, float]:
    pairs = list(zip(rows, choices, strict=True))
    ans = [outcome(r, c, threshold) for r, c in pairs if not r.unanswerable]
    dec = [outcome(r, c, threshold) for r, c in pairs if r.unanswerable]
    return 100 * sum(ans) / max(len(ans), 1), 100 * sum(dec) / max(len(dec), 1)


def rules_score(rows: list[Row]) -> tuple[float, float]:
    ans = [r.rules_right for r in rows if not r.unanswerable]
    dec = [r.rules_right for r in rows if r.unanswerable]
    return 100 * sum(ans) / max(len(ans), 1), 100 * sum(dec) / max(len(dec), 1)


def best_threshold(rows: list[Row], choices: Choices) -> tuple[float, float, float]:
    """The threshold that gives the most questions a right reply (a right answer or a right
    decline, each question counting once), ties to the lower one; with answerable % and
    declined % there. Counting questions rather than adding the two percentages weighs declines
    by how often chats ask what an article does not say (28% of the check split): the sum of
    percentages is flat over a wide range here and, maximised, declined three answers in four."""
    best = (-1, 0.5, 0.0, 0.0)
    for step in range(5, 96):
        t = step / 100
        right = sum(outcome(r, c, t) for r, c in zip(rows, choices, strict=True))
        if right > best[0]:
            a, d = score(rows, choices, t)
            best = (right, t, a, d)
    return best[1], best[2], best[3]


def diagnostics(rows: list[Row], choices: Choices) -> str:
    """Ranking top-1 (of the scored answerable questions with a right candidate, the share whose
    chosen candidate is right) and decision AUC (the confidence of a right chosen answer against
    that of a wrong one or of an unanswerable question), over the questions the scorer sees."""
    top: list[bool] = []
    good: list[float] = []
    bad: list[float] = []
    for r, c in zip(rows, choices, strict=True):
        if c is None or r.fixed is not None:
            continue
        right = r.candidates[c[0]][1]
        if any(ok for _, ok in r.candidates):
            top.append(right)
        (good if right else bad).append(c[1])
    wins = sum((g > b) + 0.5 * (g == b) for g in good for b in bad)
    auc = wins / max(len(good) * len(bad), 1)
    return (f"top-1 {100 * sum(top) / max(len(top), 1):.1f}% of {len(top)}, "
            f"decision AUC {auc:.3f} ({len(good)} right / {len(bad)} wrong)")


def fit(rows: list[Row], mask: list[bool], c: float) -> Model:
    """Ranking: conditional logit (softmax over a question's candidates) by gradient descent
    with an L2 penalty 1/c, on questions with a right candidate. Decision: logistic regression
    on the chosen candidate (scikit-learn), labelled right or not."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    keep = np.array(mask, dtype=bool)
    groups = [np.array([f for f, _ in r.candidates])[:, keep] for r in rows
              if r.candidates and any(ok for _, ok in r.candidates)]
    labels = [np.array([float(ok) for _, ok in r.candidates]) for r in rows
              if r.candidates and any(ok for _, ok in r.candidates)]
    w = np.zeros(int(keep.sum()))
    rate = 0.5
    for _ in range(400):
        grad = w / (c * len(groups))
        for x, y in zip(groups, labels, strict=True):
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            target = y / y.sum()
            grad -= (x.T @ (target - p)) / len(groups)
        w -= rate * grad
    rank_weights = iter(w.tolist())
    full = [next(rank_weights) if k else 0.0 for k in mask]
    xs: list[list[float]] = []
    ys: list[int] = []
    scorer = rank.Scorer(tuple(full), (0.0,) * len(rank.DECISION_FEATURES), 0.5, "")
    for r in rows:
        if not r.candidates:
            continue
        feats = [f for f, _ in r.candidates]
        best, _ = scorer.choose(feats)
        scores = sorted((sum(a * b for a, b in zip(full, f, strict=True)) for f in feats),
                        reverse=True)
        exps = [float(np.exp(x - scores[0])) for x in scores]
        share = exps[0] / sum(exps)
        margin = share - (exps[1] / sum(exps) if len(exps) > 1 else 0.0)
        masked = [f if keep else 0.0 for f, keep in zip(feats[best], mask, strict=True)]
        xs.append(rank.decision_row(masked, share, margin))
        ys.append(int(r.candidates[best][1]))
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(xs, ys)
    return full, model.coef_[0].tolist()


def predict(rows: list[Row], model: Model) -> Choices:
    return [decide(r, model) if r.candidates else None for r in rows]


def cross_validate(rows: list[Row], mask: list[bool], c: float, folds: int = 5) -> Choices:
    articles = sorted({r.article for r in rows})
    fold_of = {a: i % folds for i, a in enumerate(articles)}
    choices: Choices = [None for _ in rows]
    for k in range(folds):
        model = fit([r for r in rows if fold_of[r.article] != k], mask, c)
        for i, r in enumerate(rows):
            if fold_of[r.article] == k and r.candidates:
                choices[i] = decide(r, model)
    return choices


GROUPS: dict[str, tuple[str, ...]] = {
    "embeddings": ("cosine", "cosine_gap", "cosine_top", "cosine_rank", "cosine_window",
                   "typed_cosine", "cosine_z", "no_embeddings"),
    "bm25": ("bm25_share", "bm25_log", "bm25_top", "bm25_rank", "cover"),
    "rules": ("rule_pick", "rule_other"),
    "missing": ("missing_share",),
    "types": ("type_wanted", "type_present"),
    "cause_speech": ("cause", "speech"),
    "names": ("names_present",),
    "position": ("position",),
    "kinds": tuple(f for f in rank.FEATURES if f.startswith("kind_")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--ablate", action="store_true")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--no-embeddings", action="store_true",
                        help="fit and judge as the default install does, without embeddings")
    args = parser.parse_args()
    if args.no_embeddings:
        embed._embedder, embed._tried = None, True
    table.USE_SCORER = False  # candidates come from the rule stages alone, whatever is committed

    tune, check = collect("tune"), collect("check")
    print(f"tune: {len(tune)} questions, {sum(len(r.candidates) for r in tune)} candidates; "
          f"check: {len(check)} questions")
    for label, rows in (("tune", tune), ("check", check)):
        a, d = rules_score(rows)
        print(f"rule stages alone  {label:<6} answerable {a:5.1f}%  declined {d:5.1f}%")
    full = [True] * len(rank.FEATURES)
    cv = cross_validate(tune, full, args.c)
    t_cv, a, d = best_threshold(tune, cv)
    print(f"scorer, tune CV    (threshold {t_cv:.2f})  answerable {a:5.1f}%  declined {d:5.1f}%")
    model = fit(tune, full, args.c)
    check_probs = predict(check, model)
    a, d = score(check, check_probs, t_cv)
    print(f"scorer, check      (CV threshold {t_cv:.2f})  answerable {a:5.1f}%  declined {d:5.1f}%")
    t_check, a, d = best_threshold(check, check_probs)
    print(f"scorer, check      (check threshold {t_check:.2f})  answerable {a:5.1f}%  "
          f"declined {d:5.1f}%")
    print(f"scorer, check      {diagnostics(check, check_probs)}")
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r, p in zip(check, check_probs, strict=True):
        by_kind[r.kind].append(outcome(r, p, t_check))
    print("check by kind: " + ", ".join(f"{k} {100 * sum(v) / len(v):.0f}% of {len(v)}"
                                        for k, v in sorted(by_kind.items())))
    if args.ablate:
        print("\nablation on check (each group's features removed, refit, check threshold):")
        for group, names in GROUPS.items():
            mask = [f not in names for f in rank.FEATURES]
            probs = predict(check, fit(tune, mask, args.c))
            _, a2, d2 = best_threshold(check, probs)
            print(f"  without {group:<13} answerable {a2:5.1f}%  declined {d2:5.1f}%  "
                  f"(sum {a2 + d2 - a - d:+5.1f})  {diagnostics(check, probs)}")
    if args.write:
        lexical = [f not in GROUPS["embeddings"] for f in rank.FEATURES]
        for embeddings, mask in ((True, full), (False, lexical)):
            if not embeddings:  # without embeddings the candidates differ too: collect anew
                embed._embedder, embed._tried = None, True
                tune, check = collect("tune"), collect("check")
            fitted = fit(tune, mask, args.c)
            threshold, a, d = best_threshold(check, predict(check, fitted))
            path = WEIGHTS.parent / rank.WEIGHT_FILES[embeddings]
            path.write_text(json.dumps({
                "source": f"bench/qa_train.py --c {args.c}: fitted on the tune split "
                          f"({len(tune)} questions), threshold chosen on the check split "
                          f"({len(check)} questions: answerable {a:.1f}%, declined {d:.1f}%)",
                "features": list(rank.FEATURES),
                "rank_weights": [round(w, 5) for w in fitted[0]],
                "decision_features": list(rank.DECISION_FEATURES),
                "decision_weights": [round(w, 5) for w in fitted[1]],
                "threshold": threshold,
            }, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)} (threshold {threshold:.2f}: check answerable "
                  f"{a:.1f}%, declined {d:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
