"""A bank's side: its own ledger's features and labels, computed where the ledger lives.

Nothing here leaves the bank: the client trains on these rows and sends back weights and a few
counts (``apps``). Features are the fraud service's: ``account_features`` read as within-ledger
percentiles, customer accounts only (a bank's cash account and OUTSIDE are endpoints). Labels
are the ledger's ``is_fraud`` where it is known; an account nobody has judged is not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from assistant.errors import AssistantError
from assistant.fraud.features import CashRules, account_features, account_meta, within_ledger_ranks
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import AccountRow


@dataclass
class BankData:
    ids: list[str]  # customer accounts, rows of X
    names: list[str]
    X: np.ndarray  # within-ledger percentiles
    labels: np.ndarray  # 1 mule, 0 not, -1 unknown

    @property
    def labelled(self) -> np.ndarray:
        return self.labels >= 0

    @property
    def y(self) -> np.ndarray:
        return self.labels[self.labelled]

    @property
    def X_train(self) -> np.ndarray:
        return self.X[self.labelled]


def ledger_url(ledger: str) -> str:
    """A database URL as given, or a path to a SQLite ledger file as its URL."""
    if "://" in ledger:
        # a SQLite file that is not there would be created empty: say it is missing instead
        if ledger.startswith("sqlite:///") and not Path(ledger[len("sqlite:///") :]).is_file():
            raise AssistantError(f"找不到帳務資料庫 {ledger} / no ledger database at {ledger}")
        return ledger
    path = Path(ledger)
    if not path.is_file():
        raise AssistantError(f"找不到帳務資料庫 {ledger} / no ledger database at {ledger}")
    return f"sqlite:///{path.resolve()}"


def bank_data(ledger: Ledger, rules: CashRules | None = None) -> BankData:
    arrays = ledger.arrays()
    if len(arrays) == 0:
        raise AssistantError("帳務資料沒有交易 / the ledger holds no transfers")
    names, raw = account_features(arrays, account_meta(ledger), rules=rules)
    t = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        known = dict(conn.execute(select(t.c.id, t.c.is_fraud)).all())
    keep = np.flatnonzero(~arrays.reserved)
    ids = [str(a) for a in arrays.account_ids[keep].tolist()]
    labels = np.array(
        [-1 if known.get(a) is None else int(bool(known[a])) for a in ids], dtype=np.int64
    )
    return BankData(ids, names, within_ledger_ranks(raw[keep]), labels)


def open_bank_data(ledger: str, rules: CashRules | None = None) -> BankData:
    """``bank_data`` of the ledger at a database URL or SQLite path."""
    from assistant.schema import open_engine

    engine = open_engine(ledger_url(ledger))
    try:
        return bank_data(Ledger(engine), rules)
    finally:
        engine.dispose()
