"""The same product on PostgreSQL: ledger, trace, scoring, proposals and their decisions,
conversations resumed from checkpoints by another process's container, and the audit chain.

Runs when ASSISTANT_TEST_POSTGRES_URL names an empty database (`.ci/run` starts one from
Debian's packages with `.ci/postgres`); the schema is emptied first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.settings import load_settings

PG_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="set ASSISTANT_TEST_POSTGRES_URL to an empty PostgreSQL database"
)


def _container(data: Path) -> Container:
    return Container(load_settings(data_dir=data, database={"url": PG_URL}))


@pytest.fixture(scope="module")
def pg(
    tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]
) -> Iterator[Path]:
    from sqlalchemy import create_engine, text

    assert PG_URL
    engine = create_engine(PG_URL)
    with engine.begin() as conn:  # whatever an earlier test left: gone
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    data = tmp_path_factory.mktemp("pg")
    c = _container(data)
    try:
        c.ingestor.ingest_laws(small_law_files[0])
        c.fraud.generate(
            accounts=1500, transfers=15000, seed=5, start=date(2024, 3, 1), days=21, rings=6
        )
    finally:
        c.close()
    return data


def _mule(c: Container) -> str:
    from sqlalchemy import text

    with c.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' AND status = 'normal' "
                "ORDER BY id LIMIT 1"
            )
        ).scalar_one()


def test_fraud_desk_on_postgres(pg: Path) -> None:
    c = _container(pg)
    try:
        assert c.engine.dialect.name == "postgresql"
        mule = _mule(c)
        investigator = c.users.ensure("pg-investigator", "fraud")
        desk = c.fraud_desk
        up = desk.trace(investigator, mule, "up", 2)
        assert up.transfers and all(t.hop in (1, 2) for t in up.transfers)
        assert desk.train(investigator)["fraud"] > 0
        assert 0.0 <= desk.score(investigator, mule)["score"] <= 1.0
        ans = c.service.ask(investigator, f"請把帳戶 {mule} 列為警示帳戶")
        proposal = ans.data["proposals"][0]
        decided = desk.decide(investigator, proposal["id"], confirm=True)
        assert decided["result"]["status_after"] == "警示"
        assert c.fraud.account(mule)["status"] == "警示"
        report = c.audit.verify()
        assert report.ok, report
    finally:
        c.close()


def test_a_conversation_resumes_in_another_container(pg: Path) -> None:
    first = _container(pg)
    try:
        officer = first.users.ensure("pg-officer", "compliance")
        a1 = first.service.ask(officer, "銀行法對利害關係人授信有什麼限制？")
        assert a1.citations and a1.agent == "compliance"
    finally:
        first.close()
    second = _container(pg)  # a restarted server: same database, nothing in memory
    try:
        officer = second.users.get("pg-officer")
        a2 = second.service.ask(officer, "那罰則呢？", a1.conversation_id)
        assert a2.conversation_id == a1.conversation_id
        roles = [m.role for m in second.service.messages(officer, a1.conversation_id)]
        assert roles == ["user", "assistant", "user", "assistant"]
        assert second.audit.verify().ok
    finally:
        second.close()
