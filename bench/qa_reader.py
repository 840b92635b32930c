"""Score the Q&A with a qa.reader endpoint against the offline engine alone, on an eval set.

Usage: python bench/qa_reader.py --url URL [--model NAME] [--timeout S] [EVAL_DIR]
                                 [--split NAME|PREFIX] [--scores-only] [--verbose]
URL is an OpenAI-compatible base URL (Ollama: http://127.0.0.1:11434/v1); an API key, if it
needs one, comes from BRIEFBOT_READER_API_KEY as for the bot. EVAL_DIR holds .txt articles and
a questions.yaml ({article, q, kind, accept}), as for bench/qa_eval.py (default
../shared/eval/dev). Every question goes through `briefbot ask --json`, once with a config
naming the reader and once without, and is scored as qa_eval.py scores it (answerable: any
accept string in the answer; unanswerable: declined). Also printed: how many answers the reader
gave, and how many of those were right; where the others were lost (the "reader" outcome of
`briefbot ask --json`: the model said null, the quote was not found, the self-check vetoed,
timeouts, HTTP errors...) for answerable and unanswerable questions; and what the figures would
be if a null from the model declined instead of falling back to the offline answer, or if a
vetoed answer showed the offline answer instead of declining. --split tune, check or
untouched reads the frozen splits of bench/qa_holdout/splits.yaml as bench/qa_eval.py does (all
but tune print scores only). Exits 2 without --url.
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

import yaml

REPO = Path(__file__).resolve().parent.parent


def _briefbot_command() -> list[str]:
    script = REPO / ".venv" / "bin" / "briefbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "briefbot"]


def _ask(config: Path, folder: Path, article_id: str, questions: list[str],
         timeout: float) -> list[dict[str, object]]:
    command = [*_briefbot_command(), "--config", str(config), "--log-level", "warning", "ask",
               "--content", str(folder), "--article", article_id, "--json", *questions]
    # The reader answers up to 4 questions at once; each may use its whole timeout.
    limit = 60 + timeout * (len(questions) / 4 + 1)
    done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    if done.returncode != 0:
        raise SystemExit(f"briefbot ask failed ({done.returncode}): {done.stderr.strip()}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)  # e.g. "cannot reach qa.reader.url"
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _right(item: dict[str, object], row: dict[str, object]) -> bool:
    if item["kind"] == "unanswerable":
        return not row["found"]
    accept = [str(a).lower() for a in item["accept"] or []]  # type: ignore[attr-defined]
    return bool(row["found"]) and any(a in str(row["answer"]).lower() for a in accept)


def _declined(row: dict[str, object]) -> dict[str, object]:
    return row | {"found": False, "answer": "The article doesn't say."}


def _scores(label: str, items: list[dict[str, object]], rows: list[dict[str, object]]) -> None:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, row in zip(items, rows, strict=True):
        tally[str(item["kind"])][0] += _right(item, row)
        tally[str(item["kind"])][1] += 1
    answerable = [sum(v[0] for k, v in tally.items() if k != "unanswerable"),
                  sum(v[1] for k, v in tally.items() if k != "unanswerable")]
    declined = tally.get("unanswerable", [0, 0])
    print(f"{label:<18} answerable right {answerable[0]:>3}/{answerable[1]:<3}"
          f" = {100 * answerable[0] / max(answerable[1], 1):3.0f}%   unanswerable declined "
          f"{declined[0]:>3}/{declined[1]:<3} = {100 * declined[0] / max(declined[1], 1):3.0f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path,
                        default=REPO.parent / "shared" / "eval" / "dev")
    parser.add_argument("--url", help="the endpoint's base URL, e.g. http://127.0.0.1:11434/v1")
    parser.add_argument("--model", default="qwen2.5:7b-instruct")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per answer (default 30: a cold model loads first)")
    parser.add_argument("--split", default="",
                        help="tune, check or untouched (bench/qa_holdout/splits.yaml), or only "
                        "articles whose name starts with this (comma-separated: any of)")
    parser.add_argument("--scores-only", action="store_true", help="do not print the misses")
    parser.add_argument("--verbose", action="store_true", help="print every reader answer")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="ask the reader one question at a time, as a chat does, so each has "
                        "the whole timeout (default: an article's questions at once, which on a "
                        "one-slot CPU server times out the later ones)")
    args = parser.parse_args()
    if not args.url:
        print("qa_reader: no reader endpoint; pass --url, e.g. --url http://127.0.0.1:11434/v1 "
              "for Ollama (`ollama pull qwen2.5:7b-instruct` first)", file=sys.stderr)
        return 2

    sys.path.insert(0, str(REPO / "bench"))
    from qa_train import NAMED_SPLITS, questions_by_article

    by_article, folder_of = questions_by_article(args.split, args.eval_dir)
    if args.split in NAMED_SPLITS:
        args.scores_only = args.scores_only or args.split != "tune"
        args.verbose = args.verbose and args.split == "tune"

    ordered: list[dict[str, object]] = []
    offline: list[dict[str, object]] = []
    reader: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "content"
        folder.mkdir()
        with_reader = Path(tmp) / "reader.yaml"
        with_reader.write_text(yaml.safe_dump({"qa": {"reader": {
            "url": args.url, "model": args.model, "timeout": args.timeout}}}), encoding="utf-8")
        for name in by_article:
            shutil.copy(folder_of[name] / name, folder / name)
        for name, questions in by_article.items():
            article_id = Path(name).stem
            asked = [str(q["q"]) for q in questions]
            ordered += questions
            offline += _ask(Path(os.devnull), folder, article_id, asked, args.timeout)
            if args.one_at_a_time:
                for question in asked:
                    reader += _ask(with_reader, folder, article_id, [question], args.timeout)
            else:
                reader += _ask(with_reader, folder, article_id, asked, args.timeout)

    pace = "one question at a time" if args.one_at_a_time else "an article's questions at once"
    print(f"{len(ordered)} questions on {len(by_article)} articles; reader {args.model} at "
          f"{args.url}, timeout {args.timeout:g} s ({pace})\n")
    _scores("offline alone", ordered, offline)
    _scores("with the reader", ordered, reader)
    by_reader = [(i, r) for i, r in zip(ordered, reader, strict=True) if r["engine"] == "reader"]
    right = sum(_right(i, r) for i, r in by_reader)
    print(f"\nanswers from the reader: {len(by_reader)}/{len(ordered)}, right {right}"
          f"/{len(by_reader)}; the rest fell back to the offline engine")
    if not by_reader:
        print("(none: is the endpoint up and the model pulled? run again with the bot's "
              "`--log-level debug` to see why each answer fell back)")
    outcomes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, row in zip(ordered, reader, strict=True):
        outcomes[str(row.get("reader"))][item["kind"] == "unanswerable"] += 1
    print("\nwhat became of the questions at the reader (answerable / unanswerable):")
    for outcome, (answerable, unanswerable) in sorted(outcomes.items(),
                                                      key=lambda kv: -sum(kv[1])):
        print(f"  {outcome:<20} {answerable:>4} / {unanswerable:<4}")
    print()
    _scores("if null declined", ordered,
            [_declined(r) if r.get("reader") == "null" else r for r in reader])
    # Before 2026-11-30 a vetoed answer showed the offline engine's answer; now it declines.
    _scores("if a veto showed the offline answer", ordered,
            [off if r.get("reader") == "vetoed" else r
             for r, off in zip(reader, offline, strict=True)])
    if args.scores_only:
        return 0
    for item, before, after in zip(ordered, offline, reader, strict=True):
        changed = _right(item, before) != _right(item, after)
        if changed or (args.verbose and after["engine"] == "reader"):
            mark = "WIN " if _right(item, after) else ("LOSS" if changed else "ok  ")
            print(f"{mark} ({item['kind']}) [{item['article']}] {item['q']!r}\n"
                  f"     offline: {before['answer']!r}\n     reader:  {after['answer']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
