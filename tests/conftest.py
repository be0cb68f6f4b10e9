"""Shared fixtures. Real parts throughout: SQLite files, Qdrant local mode, the bundled
embedding model, jieba and BM25. Data is read from ../shared/data, never copied."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
LAWS_DIR = SHARED / "laws"

# A slice of the real corpus, small enough to embed in seconds.
SMALL_LAWS = ["銀行法", "洗錢防制法", "個人資料保護法", "管理外匯條例", "金融機構防制洗錢辦法"]


def _subset(path: Path, names: list[str], key: str) -> dict:
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    return {
        "UpdateDate": data.get("UpdateDate"),
        "Laws": [law for law in data["Laws"] if law[key] in names],
    }


@pytest.fixture(scope="session", autouse=True)
def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (LAWS_DIR / "ChLaw.json").is_file():
        pytest.fail(f"shared data not found at {SHARED}; set ASSISTANT_SHARED_DATA")
    return SHARED


@pytest.fixture(scope="session")
def small_law_files(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("laws")
    zh = folder / "ChLaw.json"
    en = folder / "EngLaw.json"
    zh.write_text(
        json.dumps(_subset(LAWS_DIR / "ChLaw.json", SMALL_LAWS, "LawName"), ensure_ascii=False),
        encoding="utf-8",
    )
    en.write_text(
        json.dumps(_subset(LAWS_DIR / "EngLaw.json", SMALL_LAWS, "ChLawName"), ensure_ascii=False),
        encoding="utf-8",
    )
    return zh, en


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return load_settings(data_dir=data_dir, **overrides)


@pytest.fixture(scope="session")
def kb(
    tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]
) -> Iterator[Container]:
    """A knowledge base with the small Chinese and English slices ingested (read-only for tests)."""
    container = Container(make_settings(tmp_path_factory.mktemp("kb")))
    zh, en = small_law_files
    container.ingestor.ingest_laws(zh)
    container.ingestor.ingest_laws(en)
    container.retriever.refresh()
    yield container
    container.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Container]:
    """An empty knowledge base of the test's own."""
    container = Container(make_settings(tmp_path / "data"))
    yield container
    container.close()
