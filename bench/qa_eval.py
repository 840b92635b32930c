"""Score the Q&A engine on an eval set: answerable right %, unanswerable declined %, the misses.

Usage: python bench/qa_eval.py [EVAL_DIR] [--split NAME|PREFIX] [--scores-only] [--in-process]
                              [--verbose]
       python bench/qa_eval.py --split tune|check|untouched|sealed|frozen
(frozen: tune, check and untouched; the sealed split runs only when named)
EVAL_DIR is any folder holding .txt articles and a questions.yaml ({article, q, kind, accept});
it defaults to ../shared/eval/dev relative to the repository root (bench/qa_holdout is the
project's own). --split keeps only articles whose file name starts with PREFIX ("tune", "check",
or several: "fresh_05,fresh_06");
--split tune, check, untouched or sealed reads the frozen splits of bench/qa_holdout/splits.yaml
(the dev set included where the split names it); all but tune print scores only.
--scores-only prints the figures without the misses (for a split that must stay unseen).
By default each article's questions go through `briefbot ask --json` in one subprocess per
article, as a user would run it; --in-process calls QAIndex directly (faster, no CLI needed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMED_SPLITS = ("tune", "check", "untouched", "sealed")
FROZEN = NAMED_SPLITS[:3]


def _briefbot_command() -> list[str]:
    script = REPO / ".venv" / "bin" / "briefbot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "briefbot"]


def _ask_subprocess(folder: Path, article_id: str, questions: list[str]) -> list[dict[str, object]]:
    command = [*_briefbot_command(), "--config", os.devnull, "ask", "--content", str(folder),
               "--article", article_id, "--json", *questions]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"briefbot ask failed ({done.returncode}): {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _ask_in_process(folder: Path, article_id: str, questions: list[str]) -> list[dict[str, object]]:
    from briefbot.articles import parse_article
    from briefbot.qa import QAIndex

    index = QAIndex()
    articles = [parse_article(path)[0] for path in sorted(folder.glob("*.txt"))]
    index.update(articles)
    rows: list[dict[str, object]] = []
    for question in questions:
        answer = index.ask(question, article_id=article_id)
        rows.append({"question": question, "found": answer.found, "answer": answer.text,
                     "source": answer.source, "article": answer.article_id})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path,
                        default=REPO.parent / "shared" / "eval" / "dev")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    parser.add_argument("--split", default="",
                        help="only articles whose name starts with this (comma-separated: any of)")
    parser.add_argument("--scores-only", action="store_true", help="do not print the misses")
    args = parser.parse_args()

    if args.split == "frozen":  # the frozen splits, one after another (scores only)
        for name in FROZEN:
            print(f"== {name}", flush=True)
            extra = ["--in-process"] if args.in_process else []
            subprocess.run([sys.executable, __file__, "--split", name, "--scores-only", *extra],
                           check=True)
        return 0
    sys.path.insert(0, str(REPO / "bench"))
    from qa_train import questions_by_article

    by_article, folder_of = questions_by_article(args.split, args.eval_dir)
    if args.split in NAMED_SPLITS:
        args.scores_only = args.scores_only or args.split != "tune"

    ask = _ask_in_process if args.in_process else _ask_subprocess
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    declined_wrongly = 0  # answerable questions the engine said the article doesn't answer
    misses: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in by_article:  # the .txt format is the content format: copy, don't convert
            shutil.copy(folder_of[name] / name, folder / name)
        for name, questions in by_article.items():
            article_id = Path(name).stem
            rows = ask(folder, article_id, [str(q["q"]) for q in questions])
            for item, row in zip(questions, rows, strict=True):
                kind = str(item["kind"])
                accept = [str(a).lower() for a in item["accept"] or []]
                answer = str(row["answer"])
                if kind == "unanswerable":
                    ok = not row["found"]
                else:
                    ok = bool(row["found"]) and any(a in answer.lower() for a in accept)
                tally[kind][0] += ok
                tally[kind][1] += 1
                line = f"[{article_id}] {item['q']!r} -> {answer!r}"
                if not ok and kind != "unanswerable" and not row["found"]:
                    declined_wrongly += 1
                if not ok:
                    misses.append(f"MISS ({kind}) {line}")
                elif args.verbose and not args.scores_only:
                    print(f"ok   ({kind}) {line}")

    answerable = [0, 0]
    print(f"{'kind':<14}{'right':>7}{'total':>7}{'%':>7}")
    for kind in sorted(tally):
        right, total = tally[kind]
        print(f"{kind:<14}{right:>7}{total:>7}{100 * right / total:>6.0f}%")
        if kind != "unanswerable":
            answerable[0] += right
            answerable[1] += total
    declined = tally.get("unanswerable", [0, 0])
    wrong = answerable[1] - answerable[0]
    print(f"\nanswerable right:      {answerable[0]}/{answerable[1]}"
          f" = {100 * answerable[0] / max(answerable[1], 1):.0f}%")
    print(f"unanswerable declined: {declined[0]}/{declined[1]}"
          f" = {100 * declined[0] / max(declined[1], 1):.0f}%")
    print(f"answerable missed:     {wrong} ({declined_wrongly} declined, "
          f"{wrong - declined_wrongly} a wrong answer)")
    if misses and not args.scores_only:
        print("\n" + "\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
