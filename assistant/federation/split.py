"""One generated ledger cut into member banks' views: what each bank of a consortium would hold.

A member holds the accounts of its bank codes and every transfer that touches one of them, so a
transfer between two members appears in both ledgers (as at real banks). The other side of such
a transfer is a counterparty the member knows only by number: no opening date, no label.

``typologies`` says which fraud typologies each member has *seen*: its own mule accounts of
those typologies keep their label, its mule accounts of any other typology are unlabelled
(nobody at that bank has recognised them yet). That is how the evaluation gives each bank a
different view of fraud (``evals.federation``), and how the demo builds its banks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from assistant.fraud.generator import GeneratedLedger
from assistant.fraud.ledger import Ledger, TransferArrays


def typology(pattern: str | None) -> str | None:
    """The generator's ``"<ring>:<kind>/<role>"`` → ``kind``."""
    if not pattern or ":" not in pattern:
        return None
    return pattern.split(":", 1)[1].split("/", 1)[0]


@dataclass
class MemberView:
    name: str
    codes: list[str]
    banks: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    transfers: TransferArrays
    own: set[str]  # the member's own account ids

    def write(self, path: Path) -> dict[str, int]:
        """The view as a SQLite ledger file (replaced if there)."""
        from assistant.schema import open_engine

        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        engine = open_engine(f"sqlite:///{path}")
        try:
            return Ledger(engine).bulk_insert(self.banks, self.accounts, self.transfers)
        finally:
            engine.dispose()


def _subset(t: TransferArrays, mask: np.ndarray) -> TransferArrays:
    kw: dict[str, Any] = {}
    for f in fields(t):
        v = getattr(t, f.name)
        kw[f.name] = v[mask] if isinstance(v, np.ndarray) else v
    return TransferArrays(**kw)


def member_views(
    g: GeneratedLedger,
    members: Mapping[str, Sequence[str]],
    typologies: Mapping[str, Sequence[str]] | None = None,
) -> list[MemberView]:
    """One view per member (``members``: name → its bank codes); ``typologies``: name → the
    typologies it has seen (None: every member has seen all)."""
    by_id = {a["id"]: a for a in g.accounts}
    views = []
    for name, codes in members.items():
        codeset = set(codes)
        seen = None if typologies is None else set(typologies.get(name, ()))
        t = g.transfers
        mask = np.isin(t.from_bank, list(codeset)) | np.isin(t.to_bank, list(codeset))
        sub = _subset(t, mask)
        own = {a["id"] for a in g.accounts if a["bank_code"] in codeset}
        accounts = []
        for a in g.accounts:
            if a["id"] not in own:
                continue
            row = dict(a)
            if row["is_fraud"] and seen is not None and typology(row["pattern"]) not in seen:
                row["is_fraud"] = None
            accounts.append(row)
        others = (set(sub.from_account.tolist()) | set(sub.to_account.tolist())) - own
        for acct in sorted(others):
            src = by_id.get(acct, {})
            accounts.append(
                {
                    "id": acct,
                    "bank_code": src.get("bank_code"),
                    "holder_ref": "counterparty",
                    "opened": None,
                    "status": "normal",
                    "is_fraud": None,
                    "pattern": None,
                }
            )
        views.append(MemberView(name, list(codes), list(g.banks), accounts, sub, own))
    return views


def even_members(codes: Sequence[str], n: int) -> dict[str, list[str]]:
    """``n`` members taking the bank codes in turn: ``bank1`` … ``bankN``."""
    return {f"bank{i + 1}": list(codes[i::n]) for i in range(n)}
