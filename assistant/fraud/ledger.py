"""The ledger: bulk writes in one transaction, look-ups by account, and numpy arrays for an
in-memory trace index.

Writes go through SQLAlchemy Core ``insert()`` executemany in chunks, against a lightweight
untyped table so no per-row type processing runs: timestamps are formatted once, in bulk, as
the text SQLAlchemy itself stores on SQLite (other databases get ``datetime`` objects).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Engine, column, func, insert, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from assistant.dates import TAIPEI
from assistant.errors import AssistantError
from assistant.fraud.records import (
    CHANNEL_CODE,
    KIND_CODE,
    AccountRow,
    BankRow,
    TransferRow,
    is_reserved,
)

_B = BankRow.__table__  # type: ignore[attr-defined]
_A = AccountRow.__table__  # type: ignore[attr-defined]
_T = TransferRow.__table__  # type: ignore[attr-defined]

BANK_COLS = ("code", "name")
ACCOUNT_COLS = ("id", "bank_code", "holder_ref", "opened", "status", "is_fraud", "pattern")
TRANSFER_COLS = (
    "id",
    "ts",
    "from_account",
    "to_account",
    "amount",
    "currency",
    "channel",
    "from_bank",
    "to_bank",
    "pattern",
    "memo",
    "kind",
    "place",
    "orig_amount",
    "orig_currency",
)
_DEFAULTS: dict[str, Any] = {
    "name": "",
    "bank_code": "",
    "holder_ref": None,
    "opened": None,
    "status": "normal",
    "is_fraud": None,
    "pattern": None,
    "currency": "TWD",
    "channel": "",
    "from_bank": "",
    "to_bank": "",
    "memo": None,
    "kind": "transfer",
    "place": None,
    "orig_amount": None,
    "orig_currency": None,
}
# Untyped twins of the tables: Core inserts without per-row bind processing.
_RAW = {
    name: table(name, *(column(c) for c in cols))
    for name, cols in (
        ("fraud_bank", BANK_COLS),
        ("fraud_account", ACCOUNT_COLS),
        ("fraud_transfer", TRANSFER_COLS),
    )
}
_READ_CHUNK = 200_000  # rows per fetch in ``arrays``
_REBUILD_AT = 100_000  # transfers in one load, and at least as many as are stored
_DROP = re.compile(r"[\s\-_]+")


# An account written after its bank's code, as online banking shows the other party:
# (812)8129876543210, 812-8129876543210, 812 8129876543210: the code names the account's bank.
# Only a whole number of ten or more digits after one separator reads so: 004-12-345678-9 is
# one account's own dashes.
_BANK_PREFIX = re.compile(r"^\s*(?:\((\d{3})\)\s*([0-9A-Za-z-]+)|(\d{3})[-\s/](\d{10,}))\s*$")


def bank_prefix(raw: str) -> tuple[str, str] | None:
    """(bank code, the number after it) of an account written after its bank's code, else
    None."""
    m = _BANK_PREFIX.match(unicodedata.normalize("NFKC", raw))
    if m is None:
        return None
    return (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))


def _unquoted(raw: str) -> str:
    """The number as typed, without what spreadsheets wrap it in to keep its leading zeros:
    an apostrophe before it ('0041234567890), quotes around it ('C1093826151', BankSim's
    style) or Excel's text formula (="0041234567890")."""
    text = raw.strip()
    if text.startswith('="') and text.endswith('"') and len(text) > 3:
        text = text[2:-1]
    if text.startswith("'"):
        text = text[1:-1] if len(text) > 2 and text.endswith("'") else text[1:]
    return text


# A file names each account many times (and a row reads its two accounts more than once:
# the kind, the endpoints): the last 65,536 numbers are remembered, a third of an import's time
# otherwise.
@lru_cache(maxsize=1 << 16)
def normalize_account(raw: str) -> str:
    """An account number as stored: full-width folded (NFKC), spaces, dashes and the
    parentheses of a bank's code removed, letters upper-cased: a bank's code written before
    the number stays its first digits, as the product's own accounts are numbered; the quotes a
    spreadsheet keeps leading zeros with are not part of it (``_unquoted``).
    ``"822-1234 5678-9012"`` → ``"822123456789012"``, ``"(812)8129876543210"`` →
    ``"8128129876543210"``."""
    raw = _unquoted(str(raw))
    split = bank_prefix(raw)
    if split:
        raw = split[0] + split[1]
    text = _DROP.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not text or len(text) > 40 or not text.isalnum() or not text.isascii():
        raise AssistantError(f"帳號格式錯誤 / not an account number: {raw!r}")
    return text


def to_utc_naive(value: datetime | date) -> datetime:
    """A bound for a query: aware datetimes are converted to UTC; naive ones are taken as UTC
    already; a date means its midnight UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time())
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def epoch_to_sqlite_text(ts: np.ndarray) -> list[str]:
    """int64 epoch seconds (UTC) → SQLAlchemy's SQLite DATETIME text, in bulk."""
    iso = np.datetime_as_string(np.asarray(ts, dtype="datetime64[s]"), unit="s")
    return [s.replace("T", " ") + ".000000" for s in iso.tolist()]


def _dt_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class TransferArrays:
    """Transfers column by column, the generator's output and a fast input to ``bulk_insert``.
    ``ts`` is int64 epoch seconds, UTC; ``pattern`` holds None for everyday flows."""

    id: np.ndarray
    ts: np.ndarray
    from_account: np.ndarray
    to_account: np.ndarray
    amount: np.ndarray
    channel: np.ndarray
    from_bank: np.ndarray
    to_bank: np.ndarray
    pattern: np.ndarray
    currency: str = "TWD"
    kind: np.ndarray | None = None  # None: every row a transfer

    def kind_of(self, lo: int, hi: int) -> list[str]:
        if self.kind is None:
            return ["transfer"] * (hi - lo)
        return self.kind[lo:hi].tolist()

    def __len__(self) -> int:
        return len(self.id)

    def rows(self) -> Iterable[dict[str, Any]]:
        """Row dicts with ``ts`` as naive UTC datetimes (slow; for small sets and tests)."""
        for i in range(len(self)):
            yield {
                "id": self.id[i],
                "ts": datetime.fromtimestamp(int(self.ts[i]), UTC).replace(tzinfo=None),
                "from_account": self.from_account[i],
                "to_account": self.to_account[i],
                "amount": float(self.amount[i]),
                "currency": self.currency,
                "channel": self.channel[i],
                "from_bank": self.from_bank[i],
                "to_bank": self.to_bank[i],
                "pattern": self.pattern[i],
                "kind": self.kind_of(i, i + 1)[0],
            }


@dataclass
class LedgerArrays:
    """The ledger as arrays, for an in-memory trace index. ``src``/``dst`` index into
    ``account_ids``; ``index`` maps an account id back to its position."""

    account_ids: np.ndarray  # object (str), sorted
    index: dict[str, int]
    transfer_ids: np.ndarray  # object (str)
    src: np.ndarray  # int64
    dst: np.ndarray  # int64
    ts: np.ndarray  # int64 epoch seconds, UTC
    amount: np.ndarray  # float64
    extra: dict[str, Any] = field(default_factory=dict)
    # int8 codes per transfer: ``records.KIND_CODE`` (0 transfer, 1 cash_in, 2 cash_out) and
    # ``records.CHANNEL_CODE`` (1 ATM, 2 臨櫃, 0 other); None: all transfers, channel unknown.
    kind: np.ndarray | None = None
    channel: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.transfer_ids)

    def kinds(self) -> np.ndarray:
        return self.kind if self.kind is not None else np.zeros(len(self), dtype=np.int8)

    def before(self, ts: int) -> LedgerArrays:
        """The ledger as it stood before ``ts`` (its transfers before then; the same accounts,
        so rows of features line up)."""
        mask = self.ts < ts
        return LedgerArrays(
            account_ids=self.account_ids,
            index=self.index,
            transfer_ids=self.transfer_ids[mask],
            src=self.src[mask],
            dst=self.dst[mask],
            ts=self.ts[mask],
            amount=self.amount[mask],
            kind=self.kinds()[mask],
            channel=self.channels()[mask],
        )

    def channels(self) -> np.ndarray:
        return self.channel if self.channel is not None else np.zeros(len(self), dtype=np.int8)

    @property
    def reserved(self) -> np.ndarray:
        """Per account: True for the reserved cash / outside endpoints (``records.is_reserved``),
        which are where money enters or leaves the banking system, not customers."""
        return np.fromiter(
            (is_reserved(a) for a in self.account_ids.tolist()),
            dtype=bool,
            count=len(self.account_ids),
        )


class Ledger:
    def __init__(self, engine: Engine, chunk_size: int = 50_000) -> None:
        self._engine = engine
        self._chunk = max(1, int(chunk_size))
        self._sqlite = engine.dialect.name == "sqlite"

    @property
    def engine(self) -> Engine:
        return self._engine

    # ------------------------------------------------------------------ write

    def bulk_insert(
        self,
        banks: Iterable[Mapping[str, Any]] = (),
        accounts: Iterable[Mapping[str, Any]] = (),
        transfers: Iterable[Mapping[str, Any]] | TransferArrays = (),
    ) -> dict[str, int]:
        """Insert everything in one transaction; banks already present are left as they are,
        a duplicate account or transfer id refuses the whole batch (AssistantError) and the
        ledger is as it was. Returns the counts inserted."""
        if not isinstance(transfers, TransferArrays | Sequence):
            transfers = list(transfers)
        return self.insert_batches([(banks, accounts, transfers)], expected=len(transfers))

    def insert_batches(
        self,
        batches: Iterable[
            tuple[
                Iterable[Mapping[str, Any]],
                Iterable[Mapping[str, Any]],
                Iterable[Mapping[str, Any]] | TransferArrays,
            ]
        ],
        *,
        expected: int = 0,
        keep_stored_accounts: bool = False,
        keep_stored_transfers: bool = False,
        keep_stored_events: bool = False,
        events_by_day: bool = False,
        finish: Callable[[Any], None] | None = None,
    ) -> dict[str, int]:
        """(banks, accounts, transfers) batches, read one at a time and written in one
        transaction, so a file larger than memory is loaded whole or not at all: an error
        raised while the batches are read, or a duplicate transfer id, leaves the ledger as it
        was. ``expected``: about how many transfers come (a large load into SQLite rebuilds the
        indexes after it). ``keep_stored_accounts``: an account already stored is left as it
        is, not a duplicate (an import names accounts it does not know are there).
        ``keep_stored_transfers``: a transfer whose id is stored is left out and counted in
        ``already`` (the same transfer read from both parties' statements; ``already_cash``
        of them cash events), not a duplicate; transfers then come as mappings.
        ``keep_stored_events``: the same for a transfer the ledger holds under another id (the
        same time, accounts and amount: a file imported again, or an export overlapping one
        imported before); the k-th such row of the import is left out while the ledger holds k
        (``new_events``); ``events_by_day``: the same accounts and amount on the same Taiwan
        day are the same event (a statement printing the day, or the time another way, than
        the list imported before). ``finish`` runs on the connection after the last batch, inside the
        same transaction."""
        with self._engine.connect() as conn:
            known = {r[0] for r in conn.execute(select(_B.c.code))}
        counts = {"banks": 0, "accounts": 0, "transfers": 0}
        if keep_stored_transfers or keep_stored_events:
            counts["already"] = counts["already_cash"] = 0
        met: Counter[tuple[Any, ...]] = Counter()  # each event's rows so far in the import
        try:
            with self._engine.begin() as conn:
                # A large load into SQLite goes faster without the secondary indexes, built
                # again afterwards from sorted data; DDL is transactional there, so a failure
                # leaves them as they were.
                # (not while looking events up: the lookups need the index)
                rebuild = (
                    self._sqlite
                    and not keep_stored_events
                    and expected
                    >= max(
                        _REBUILD_AT, conn.execute(select(func.count()).select_from(_T)).scalar_one()
                    )
                )
                if rebuild:
                    # pysqlite opens a transaction only before DML; DDL would autocommit
                    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                        conn.exec_driver_sql("BEGIN")
                    for ix in _T.indexes:
                        ix.drop(conn)
                stmt = insert(_RAW["fraud_transfer"])
                # The statement compiled once; on SQLite rows go to executemany as tuples,
                # skipping SQLAlchemy's per-row parameter handling (half the time of a big load).
                sql = str(stmt.compile(dialect=conn.dialect))
                for banks, accounts, transfers in batches:
                    bank_rows = [
                        _fill(b, BANK_COLS)
                        for b in banks
                        if b["code"] not in known and not known.add(b["code"])
                    ]
                    if bank_rows:
                        conn.execute(insert(_RAW["fraud_bank"]), bank_rows)
                    account_rows = [_fill(a, ACCOUNT_COLS) for a in accounts]
                    if keep_stored_accounts and account_rows:
                        stored = _stored(conn, _A, [a["id"] for a in account_rows])
                        account_rows = [a for a in account_rows if a["id"] not in stored]
                    if self._sqlite:
                        for a in account_rows:
                            if isinstance(a["opened"], date):
                                a["opened"] = a["opened"].isoformat()
                    for chunk in _chunks(account_rows, self._chunk):
                        conn.execute(insert(_RAW["fraud_account"]), chunk)
                    counts["banks"] += len(bank_rows)
                    counts["accounts"] += len(account_rows)
                    if keep_stored_transfers:
                        rows = list(transfers)  # type: ignore[arg-type]
                        seen = _stored(conn, _T, [t["id"] for t in rows])
                        transfers = []
                        for t in rows:
                            # stored, or met already in this batch (both parties' rows of
                            # one file)
                            if t["id"] in seen:
                                counts["already"] += 1
                                counts["already_cash"] += t.get("kind", "transfer") != "transfer"
                            else:
                                seen.add(t["id"])
                                transfers.append(t)
                    if keep_stored_events:
                        transfers = new_events(
                            conn,
                            list(transfers),  # type: ignore[arg-type]
                            met,
                            counts,
                            by_day=events_by_day,
                        )
                        free_made_ids(conn, transfers)  # type: ignore[arg-type]
                    for chunk in self._transfer_chunks(transfers):
                        if self._sqlite:
                            conn.exec_driver_sql(sql, chunk)
                        else:
                            conn.execute(
                                stmt, [dict(zip(TRANSFER_COLS, r, strict=True)) for r in chunk]
                            )
                        counts["transfers"] += len(chunk)
                if rebuild:
                    for ix in _T.indexes:
                        ix.create(conn)
                if finish is not None:
                    finish(conn)
        except IntegrityError as exc:
            raise AssistantError(
                "帳號或交易編號重複，整批未寫入 / duplicate account or transfer id, nothing was "
                f"written: {exc.orig}"
            ) from exc
        return counts

    def _transfer_chunks(
        self, transfers: Iterable[Mapping[str, Any]] | TransferArrays
    ) -> Iterable[list[tuple[Any, ...]]]:
        """Chunks of rows as tuples in ``TRANSFER_COLS`` order, ``ts`` ready to bind."""
        if isinstance(transfers, TransferArrays):
            n = len(transfers)
            for lo in range(0, n, self._chunk):
                hi = min(n, lo + self._chunk)
                if self._sqlite:
                    ts: Sequence[Any] = epoch_to_sqlite_text(transfers.ts[lo:hi])
                else:
                    ts = [
                        datetime.fromtimestamp(int(t), UTC).replace(tzinfo=None)
                        for t in transfers.ts[lo:hi]
                    ]
                yield list(
                    zip(
                        transfers.id[lo:hi].tolist(),
                        ts,
                        transfers.from_account[lo:hi].tolist(),
                        transfers.to_account[lo:hi].tolist(),
                        transfers.amount[lo:hi].tolist(),
                        [transfers.currency] * (hi - lo),
                        transfers.channel[lo:hi].tolist(),
                        transfers.from_bank[lo:hi].tolist(),
                        transfers.to_bank[lo:hi].tolist(),
                        transfers.pattern[lo:hi].tolist(),
                        [None] * (hi - lo),  # the generator writes no memos
                        transfers.kind_of(lo, hi),
                        [None] * (hi - lo),  # place
                        [None] * (hi - lo),  # orig_amount: the generator writes NT$ only
                        [None] * (hi - lo),  # orig_currency
                        strict=True,
                    )
                )
            return
        for chunk in _chunks(transfers, self._chunk):
            rows = []
            for t in chunk:
                r = _fill(t, TRANSFER_COLS)
                ts = to_utc_naive(r["ts"])
                r["ts"] = _dt_text(ts) if self._sqlite else ts
                rows.append(tuple(r.values()))
            yield rows

    # ------------------------------------------------------------------ read

    def account(self, account_id: str) -> AccountRow | None:
        with Session(self._engine) as session:
            row = session.get(AccountRow, normalize_account(account_id))
            if row is not None:
                session.expunge(row)
            return row

    def bank(self, code: str) -> BankRow | None:
        with Session(self._engine) as session:
            row = session.get(BankRow, str(code).strip())
            if row is not None:
                session.expunge(row)
            return row

    def transfers_in(
        self,
        account: str,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
    ) -> list[TransferRow]:
        """Transfers into ``account`` with ``since`` ≤ ts < ``until``, oldest first."""
        return self._transfers(_T.c.to_account, account, since, until)

    def transfers_out(
        self,
        account: str,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
    ) -> list[TransferRow]:
        """Transfers out of ``account`` with ``since`` ≤ ts < ``until``, oldest first."""
        return self._transfers(_T.c.from_account, account, since, until)

    def _transfers(self, col: Any, account: str, since: Any, until: Any) -> list[TransferRow]:
        stmt = select(TransferRow).where(col == normalize_account(account))
        if since is not None:
            stmt = stmt.where(_T.c.ts >= to_utc_naive(since))
        if until is not None:
            stmt = stmt.where(_T.c.ts < to_utc_naive(until))
        stmt = stmt.order_by(_T.c.ts, _T.c.id)
        with Session(self._engine) as session:
            rows = list(session.scalars(stmt).all())
            session.expunge_all()
        return rows

    def evidence(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the ledger holds of these transfers beyond a trace's arrays, for the evidence:
        the memo (附言), and for an amount stored in NT$ the file's amount and currency
        (``orig_amount``, ``orig_currency``); transfers with none of them are left out."""
        out: dict[str, dict[str, Any]] = {}
        cols = (_T.c.id, _T.c.memo, _T.c.orig_amount, _T.c.orig_currency)
        for chunk in _chunks(list(ids), 500):
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(*cols).where(
                        _T.c.id.in_(chunk),
                        (_T.c.memo.is_not(None)) | (_T.c.orig_currency.is_not(None)),
                    )
                )
                for tid, memo, orig_amount, orig_currency in rows:
                    got: dict[str, Any] = {"memo": memo} if memo else {}
                    if orig_currency:
                        got.update(orig_amount=orig_amount, orig_currency=orig_currency)
                    if got:
                        out[tid] = got
        return out

    @staticmethod
    def label(conn: Any, fraud: Mapping[str, str], accounts: Iterable[str]) -> None:
        """Ground truth from a labelled import, on ``conn`` (inside its transaction): the
        accounts in ``fraud`` are fraud, with their pattern; the other ``accounts`` are normal
        unless already labelled fraud (a label is never taken back by a later file)."""
        for chunk in _chunks(list(fraud.items()), 500):
            for pattern in {p for _, p in chunk}:
                ids = [a for a, p in chunk if p == pattern]
                conn.execute(
                    update(_A).where(_A.c.id.in_(ids)).values(is_fraud=True, pattern=pattern)
                )
        normal = [a for a in accounts if a not in fraud]
        for chunk in _chunks(normal, 500):
            conn.execute(
                update(_A)
                .where(_A.c.id.in_(chunk), _A.c.is_fraud.is_not(True))
                .values(is_fraud=False)
            )

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {
                "banks": conn.execute(select(func.count()).select_from(_B)).scalar_one(),
                "accounts": conn.execute(select(func.count()).select_from(_A)).scalar_one(),
                "transfers": conn.execute(select(func.count()).select_from(_T)).scalar_one(),
                "fraud_accounts": conn.execute(
                    select(func.count()).select_from(_A).where(_A.c.is_fraud.is_(True))
                ).scalar_one(),
            }

    def laundering_patterns(self) -> dict[str, str]:
        """The transfers a labelled import marked as laundering: id → its ``pattern``."""
        with self._engine.connect() as conn:
            q = select(_T.c.id, _T.c.pattern).where(_T.c.pattern.is_not(None))
            return {str(i): str(p) for i, p in conn.execute(q)}

    def has_transfers(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(_T.c.id).limit(1)).first() is not None

    def existing_ids(self, kind: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are already stored (kind: "account" or "transfer")."""
        tab = {"account": _A, "transfer": _T}[kind]
        with self._engine.connect() as conn:
            return _stored(conn, tab, list(dict.fromkeys(ids)))

    def arrays(
        self, since: datetime | date | None = None, until: datetime | date | None = None
    ) -> LedgerArrays:
        """All transfers (``since`` ≤ ts < ``until``) as arrays, read with one SELECT through
        the DB-API cursor. Accounts are every stored account plus any transfer endpoint the
        account table lacks, sorted by id."""
        if self._sqlite:
            epoch = "CAST(strftime('%s', ts) AS INTEGER)"
            bind = _dt_text
        else:
            epoch = "CAST(EXTRACT(EPOCH FROM ts) AS BIGINT)"
            bind = None
        where, params = [], []
        for op, value in ((">=", since), ("<", until)):
            if value is not None:
                v = to_utc_naive(value)
                where.append(f"ts {op} %s" if not self._sqlite else f"ts {op} ?")
                params.append(bind(v) if bind else v)
        sql = (
            f"SELECT id, from_account, to_account, {epoch}, amount, kind, channel "
            "FROM fraud_transfer"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        # Read in chunks, each turned into arrays at once: 10M transfers as Python tuples would
        # take several GB for a moment; as arrays they take a few hundred MB.
        index: dict[str, int] = {}
        tid_parts: list[np.ndarray] = []
        src_parts: list[np.ndarray] = []
        dst_parts: list[np.ndarray] = []
        ts_parts: list[np.ndarray] = []
        amount_parts: list[np.ndarray] = []
        kind_parts: list[np.ndarray] = []
        channel_parts: list[np.ndarray] = []

        def number(a: str) -> int:
            n = index.get(a)
            if n is None:
                n = index[a] = len(index)
            return n

        raw = self._engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SELECT id FROM fraud_account")
            for (a,) in cur.fetchall():
                number(a)
            cur.execute(sql, params)
            while rows := cur.fetchmany(_READ_CHUNK):
                tids, frm, to, ts, amount, kind, channel = zip(*rows, strict=True)
                del rows
                part = np.empty(len(tids), dtype=object)
                part[:] = tids
                tid_parts.append(part)
                src_parts.append(np.fromiter(map(number, frm), dtype=np.int64, count=len(frm)))
                dst_parts.append(np.fromiter(map(number, to), dtype=np.int64, count=len(to)))
                ts_parts.append(np.asarray(ts, dtype=np.int64))
                amount_parts.append(np.asarray(amount, dtype=np.float64))
                kind_parts.append(
                    np.fromiter((KIND_CODE.get(k, 0) for k in kind), np.int8, len(kind))
                )
                channel_parts.append(
                    np.fromiter((CHANNEL_CODE.get(c, 0) for c in channel), np.int8, len(channel))
                )
            cur.close()
        finally:
            raw.close()
        # Accounts are numbered in the order met; the arrays promise them sorted by id.
        met = np.empty(len(index), dtype=object)
        met[:] = list(index)
        order = np.argsort(met.astype(str), kind="stable") if len(met) else np.zeros(0, np.int64)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        account_ids = met[order]

        def joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        return LedgerArrays(
            account_ids=account_ids,
            index={a: i for i, a in enumerate(account_ids.tolist())},
            transfer_ids=joined(tid_parts, object),
            src=rank[joined(src_parts, np.int64)],
            dst=rank[joined(dst_parts, np.int64)],
            ts=joined(ts_parts, np.int64),
            amount=joined(amount_parts, np.float64),
            kind=joined(kind_parts, np.int8),
            channel=joined(channel_parts, np.int8),
        )


def _fill(row: Mapping[str, Any], cols: Sequence[str]) -> dict[str, Any]:
    return {c: row[c] if c in row else _DEFAULTS[c] for c in cols}


def _taipei_day(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=UTC).astimezone(TAIPEI).date()


def _taipei_midnight(day: date) -> datetime:
    """The day's start in Taiwan, as naive UTC (how the ledger stores times)."""
    return to_utc_naive(datetime.combine(day, time(), TAIPEI))


# Statements' rows carry ids of this prefix (``account_statement``); a transfer list matches
# them by day.
STATEMENT_ID = "stmt:"
_BY_DAY = "day"


def _event(t: Mapping[str, Any], by_day: bool = False) -> tuple[Any, ...]:
    ts = to_utc_naive(t["ts"])
    when = _taipei_day(ts) if by_day else ts
    return (t["from_account"], t["to_account"], when, round(float(t["amount"]), 2))


def new_events(
    conn: Any,
    rows: list[Mapping[str, Any]],
    met: Counter[tuple[Any, ...]],
    counts: dict[str, int],
    *,
    by_day: bool = False,
) -> list[Mapping[str, Any]]:
    """The rows of a batch that are not in the ledger yet. An event is its accounts, time and
    amount (``by_day``: its Taiwan day instead of its time); the k-th row of one event in the
    import is already there when the ledger holds k of it (counting this import's rows
    written so far: a file with two identical transfers adds both, the same file again
    neither). ``met`` carries the counts from batch to batch.

    Without ``by_day`` (a transfer list), what a statement brought in before (ids
    ``stmt:…``) is matched by day too: statements print the day only, or the time another
    way, so a row the same time does not match is the statement's entry of that day, while
    one is left (each entry stands for one row)."""
    if not rows:
        return rows
    events = [_event(t, by_day) for t in rows]
    times = [to_utc_naive(t["ts"]) for t in rows]
    # the whole Taiwan days the batch touches (a statement's day-only entry may stand at the
    # day's start, before the batch's first time)
    lo = _taipei_midnight(_taipei_day(min(times)))
    hi = _taipei_midnight(_taipei_day(max(times)) + timedelta(days=1))
    stored: Counter[tuple[Any, ...]] = Counter()
    for chunk in _chunks(sorted({e[0] for e in events}), 500):
        q = select(_T.c.id, _T.c.from_account, _T.c.to_account, _T.c.ts, _T.c.amount).where(
            _T.c.from_account.in_(chunk), _T.c.ts >= lo, _T.c.ts <= hi
        )
        for r in conn.execute(q):
            m = dict(r._mapping)
            if by_day or not str(m["id"]).startswith(STATEMENT_ID):
                stored[_event(m, by_day)] += 1
            else:
                stored[(_BY_DAY, *_event(m, True))] += 1
    kept = []
    for t, e in zip(rows, events, strict=True):
        met[e] += 1
        day = (_BY_DAY, *_event(t, True)) if not by_day else None
        if met[e] <= stored[e]:
            counts["already"] += 1
            counts["already_cash"] += t.get("kind", "transfer") != "transfer"
            continue
        if day is not None and met[day] < stored[day]:
            # a statement's entry of that day: this row is it (not this time's k-th row)
            met[e] -= 1
            met[day] += 1
            counts["already"] += 1
            counts["already_cash"] += t.get("kind", "transfer") != "transfer"
            continue
        stored[e] += 1  # written below, before the next batch asks
        kept.append(t)
    return kept


def free_made_ids(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Give a new transfer whose id the import made up (``"<file>:<line>"``, flagged
    ``id_made``) and the ledger already holds under another transfer a free one,
    ``"<file>:<line>~2"`` and so on: a file edited and imported again under its name has its
    lines moved, and a new row must not be refused as a duplicate of an old one. Ids the file
    gave are left as they are (the same id for another transfer is a real conflict)."""
    made = [t for t in rows if t.get("id_made")]
    if not made:
        return
    taken = _stored(conn, _T, [t["id"] for t in made])
    for t in made:
        if t["id"] not in taken:
            continue
        base = t["id"]
        k = 2
        while (free := f"{base}~{k}") in taken or _stored(conn, _T, [free]):
            k += 1
        taken.add(free)
        t["id"] = free


def _stored(conn: Any, tab: Any, ids: list[str]) -> set[str]:
    """Which of ``ids`` the table holds, asked 500 at a time (a bound list of parameters)."""
    found: set[str] = set()
    for chunk in _chunks(ids, 500):
        found.update(r[0] for r in conn.execute(select(tab.c.id).where(tab.c.id.in_(chunk))))
    return found


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
