"""The scale benchmarks' ledger beyond what the generator holds in memory at once: written as
regions, no account shared between them but the banks' CASH accounts, every transfer's
accounts present, the planted rings listed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import benchmarks.fraud_trace as fraud_trace


def test_a_ledger_larger_than_a_region_is_written_region_by_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fraud_trace, "REGION", 20_000)
    path = tmp_path / "ledger.db"
    fraud_trace._write_ledger(str(path), 50_000, 7)
    db = sqlite3.connect(path)
    one = db.execute
    assert one("SELECT count(*) FROM fraud_transfer").fetchone() == (50_000,)
    # three regions of 16,667 transfers, each its own 833 customers; CASH written once
    by_region = dict(
        one(
            "SELECT substr(id, -1), count(*) FROM fraud_account WHERE id NOT LIKE 'CASH%' GROUP BY 1"
        )
    )
    assert set(by_region) == {"0", "1", "2"} and len(set(by_region.values())) == 1
    assert one("SELECT count(*) FROM fraud_account WHERE id LIKE 'CASH%'").fetchone() == (12,)
    for side in ("from_account", "to_account"):
        missing = one(
            f"SELECT count(*) FROM fraud_transfer t LEFT JOIN fraud_account a ON a.id = t.{side} "
            "WHERE a.id IS NULL"
        ).fetchone()
        assert missing == (0,)
    rings = json.loads(path.with_suffix(".rings.json").read_text("utf-8"))
    marks = ",".join("?" * len(rings))
    fraud = one(f"SELECT count(*) FROM fraud_account WHERE is_fraud = 1 AND id IN ({marks})", rings)
    assert fraud.fetchone() == (len(rings),) and {r[-1] for r in rings} == {"0", "1", "2"}
