"""Shared fixtures. Real parts throughout: SQLite files, Qdrant local mode, the bundled
embedding model, jieba and BM25. Data is read from ../shared/data, never copied.

Whole-suite PostgreSQL mode: with ``ASSISTANT_TEST_DATABASE=postgres`` and
``ASSISTANT_TEST_POSTGRES_URL`` (a SQLAlchemy URL such as the one ``.ci/postgres`` prints,
``postgresql+psycopg://postgres@127.0.0.1:55432/twfin_test``), every ``Settings`` whose
``database.url`` is unset gets a PostgreSQL database of its own instead of
``DATA_DIR/assistant.db``: ``Settings.database_url`` is patched for the session so that a data
dir maps to the database ``twfin_t_<hash of the resolved path>`` on that server, created on
first use and dropped at the end of the session. In-process CLI calls (click's CliRunner) go
there too, since they build their settings from ``--data-dir``.

What stays on SQLite: settings with an explicit ``database.url`` (tests/test_postgres.py keeps
its own database); engines made directly on a ``sqlite:///`` URL (the audit-chain, ledger, FX,
login and catalog unit tests); a data dir whose ``assistant.db`` a test already wrote that way
before its first ``Settings`` (test_audit_chain.py then runs the CLI on the dir: it reads that
file). Subprocesses: the appenders test_audit_chain.py starts are handed a SQLite file (SQLite
by design); the llama.cpp server of test_llm_server.py has no database; ``assistant serve``
and ``assistant audit verify`` in test_reliability_load.py get this mode's database through
ASSISTANT_DATABASE_URL (evals/reliability/load.py's ``assistant_env``); the kill harness
(evals/reliability/kill.py) copies data dirs as files, so its test is skipped in this mode.
Tests that assert SQLite itself (its default URL) are skipped in this mode with the reason;
use ``sqlite_only`` (below) for them.

    export ASSISTANT_TEST_POSTGRES_URL="$(./.ci/postgres)"
    ASSISTANT_TEST_DATABASE=postgres pytest -q
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.settings import Settings, load_settings
from evals.support import law_subset

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
LAWS_DIR = SHARED / "laws"

# A slice of the real corpus, small enough to embed in seconds.
SMALL_LAWS = ["銀行法", "洗錢防制法", "個人資料保護法", "管理外匯條例", "金融機構防制洗錢辦法"]


@pytest.fixture(scope="session", autouse=True)
def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


# ---- whole-suite PostgreSQL mode ----------------------------------------------------------

PG_MODE = os.environ.get("ASSISTANT_TEST_DATABASE", "").lower() in ("postgres", "postgresql")
PG_SERVER_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")

# For a test that checks SQLite itself, not the product on whatever database it runs on.
sqlite_only = pytest.mark.skipif(
    PG_MODE, reason="asserts SQLite itself; ASSISTANT_TEST_DATABASE=postgres replaces it"
)
# For an eval whose subject is not the database (retrieval quality over the whole corpus,
# minutes of embedding): it runs once, on the SQLite pass. The PostgreSQL pass covers the same
# ingestion and search code on the small slices (``kb``, tests/test_postgres.py).
once_on_sqlite = pytest.mark.skipif(
    PG_MODE, reason="measures retrieval, not storage: runs once, on the SQLite pass"
)
# For an eval that keeps its ledgers in a temporary SQLite database of its own (``evals.fraud``,
# ``evals.realtime``, ``evals.rings`` load every ledger that way): the PostgreSQL pass would run
# it unchanged, so it runs once, on the SQLite pass.
eval_on_own_sqlite = pytest.mark.skipif(
    PG_MODE, reason="the eval keeps its ledgers in its own temporary SQLite: runs once"
)


class _PgDatabases:
    """One PostgreSQL database per data dir, created on first use, dropped at the end."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.url = make_url(server_url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.created: dict[str, str] = {}  # database name -> its URL
        self.sqlite_dirs: set[str] = set()
        self.lock = threading.Lock()

    def url_for(self, data_dir: Path) -> str | None:
        """The data dir's PostgreSQL URL; None where it stays on its SQLite file."""
        resolved = str(Path(data_dir).expanduser().resolve())
        name = "twfin_t_" + hashlib.sha256(resolved.encode()).hexdigest()[:16]
        with self.lock:
            if resolved in self.sqlite_dirs:
                return None
            if name not in self.created:
                sqlite_file = Path(resolved) / "assistant.db"
                if sqlite_file.is_file() and sqlite_file.stat().st_size > 0:
                    # A test wrote this file on an explicit sqlite:/// URL and then points the
                    # CLI at the dir (test_audit_chain.py): it keeps reading that file.
                    self.sqlite_dirs.add(resolved)
                    return None
                from sqlalchemy import text

                with self.admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    conn.execute(text(f"CREATE DATABASE {name}"))
                self.created[name] = self.url.set(database=name).render_as_string(
                    hide_password=False
                )
            return self.created[name]

    def drop_all(self) -> None:
        from sqlalchemy import text

        with self.lock:
            for name in list(self.created):
                try:
                    with self.admin.connect() as conn:
                        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                except Exception:  # best-effort: a leftover database on a throwaway server
                    pass
                del self.created[name]
        self.admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _postgres_everywhere() -> Iterator[None]:
    """In PostgreSQL mode: every data dir without a database URL gets a PostgreSQL database."""
    if not PG_MODE:
        yield
        return
    if not PG_SERVER_URL:
        pytest.exit(
            "ASSISTANT_TEST_DATABASE=postgres needs ASSISTANT_TEST_POSTGRES_URL", returncode=4
        )
    databases = _PgDatabases(PG_SERVER_URL)

    sqlite_default = Settings.database_url

    def database_url(self: Settings) -> str:
        if self.database.url:
            return self.database.url
        return databases.url_for(self.data_dir) or sqlite_default.fget(self)  # type: ignore[attr-defined]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Settings, "database_url", property(database_url))
        try:
            yield
        finally:
            databases.drop_all()


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
    zh = law_subset(LAWS_DIR / "ChLaw.json", folder / "ChLaw.json", SMALL_LAWS)
    en = law_subset(LAWS_DIR / "EngLaw.json", folder / "EngLaw.json", SMALL_LAWS)
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


def pytest_configure(config: pytest.Config) -> None:
    # Registered here rather than in pyproject.toml: the Makefile reinstalls the venv whenever
    # pyproject.toml changes.
    config.addinivalue_line(
        "markers",
        "mops: the credit extraction over the 59 shared MOPS reports (about a minute; "
        "make eval-credit)",
    )
