"""Fraud money-flow trace: where an account's money came from (upstream, 前期金流) or went
(downstream), hop by hop in time order, with transfer ids as evidence.

The engine works on plain numpy arrays (what ``Ledger.arrays()`` hands over) and keeps two
CSR-style adjacencies: out-edges sorted by (src, ts) and in-edges sorted by (dst, ts descending).
Each adjacency is one sorted int64 key ``account << 34 | relative time`` plus the permutation
back to the transfer rows, so "the transfers of these accounts within these times" is two
``searchsorted`` calls per hop and the rest of a hop is vectorised masking.

Time-respecting paths
    Downstream, a hop-(k+1) transfer leaves the account that a hop-k transfer reached at or after
    that transfer (and at most ``window_s`` after it, if given). Upstream, mirrored: a
    hop-(k+1) transfer enters the account that sent a hop-k transfer at or before it (and at most
    ``window_s`` before it). Only hop 1 is restricted by ``since`` / ``until``; every hop by
    ``min_amount``. Each transfer is taken at most once (at the first hop that finds it), so
    cycles end.

Truncation
    Per account per hop, at most ``per_hop_limit`` of the transfers that qualify are kept:
    ``order="amount"`` keeps the largest amounts (ties: nearest in time first); ``order="time"``
    keeps those nearest the traced money in time (downstream the earliest, upstream the latest).
    Every cut is recorded in ``TraceResult.truncated`` (account, hop, kept, dropped,
    dropped_amount). Dropped transfers are not considered again at later hops.

Cash and outside parties
    A trace ends at a reserved endpoint (``records.is_reserved``): downstream, a withdrawal into
    a bank's ``CASH`` account is where the money left the banking system (role ``cash``), and
    upstream a deposit from it is where the money came in as cash; the trace never continues
    through CASH into other customers' cash. ``OUTSIDE`` (a party the ledger does not name)
    ends a trace the same way (role ``outside``). ``TraceResult.cash`` sums the traced
    withdrawals and deposits per cash account.

Attribution (how much of the root's money reached / came from each account)
    Downstream, a hop-1 transfer carries its whole amount of the root's money. Upstream, a
    hop-1 transfer's whole amount reached the root.

    ``proportional``: at each account, the attributed money that the hop-k transfers brought in
    (downstream) or carried on toward the root (upstream), A, is split over the account's
    hop-(k+1) transfers in proportion to their amounts, each capped at its own amount:
    ``attributed = amount × min(1, A / sum of those amounts)``. So an account never passes on more
    than it was attributed, and no transfer carries more than its amount. Only traced transfers
    count; the account's other money is not modelled (an upper bound, which is what an
    investigator wants to look at first).

    ``fifo``: money leaves in the order it arrived. At each account the hop-k and hop-(k+1)
    transfers are matched in real time: the inflows form a queue in arrival order and each
    outflow, in time order, takes from the front of the queue what has arrived at or before it
    (at most its amount; the rest of it came from money the trace does not see). Downstream an
    outflow's attributed amount is the root's share of what it took; upstream an inflow's
    attributed amount is the share of it that the outflows toward the root took, weighted by
    their own attributed fraction.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.dates import TAIPEI
from assistant.errors import AssistantError
from assistant.fraud.records import CASH_ACCOUNT, is_reserved
from assistant.textfiles import spreadsheet_safe

TIME_BITS = 34  # relative seconds: 544 years
TIME_MASK = (1 << TIME_BITS) - 1
MAX_ACCOUNTS = 1 << (63 - TIME_BITS)
MAX_HOPS = 6

ROLES = ("root", "intermediate", "source", "sink", "cash", "outside")
TRANSFER_KEYS = ("id", "ts", "epoch", "from", "to", "amount", "hop", "attributed")

Direction = Literal["up", "down"]
Order = Literal["amount", "time"]
Attribution = Literal["proportional", "fifo"]

RULES = {
    ("proportional", "down"): (
        "proportional: hop-1 transfers carry their whole amount of the root's money; at each "
        "account the attributed money brought in by hop-k transfers is split over its hop-(k+1) "
        "transfers in proportion to their amounts, each capped at its amount "
        "(attributed = amount × min(1, attributed_in / traced_out)). Other money of the account "
        "is not modelled."
    ),
    ("proportional", "up"): (
        "proportional: hop-1 transfers' whole amounts reached the root; at each account the "
        "attributed money it sent on toward the root at hop k is split over its hop-(k+1) "
        "incoming transfers in proportion to their amounts, each capped at its amount "
        "(attributed = amount × min(1, attributed_out / traced_in)). Other money of the account "
        "is not modelled."
    ),
    ("fifo", "down"): (
        "fifo: money leaves in the order it arrived; at each account the traced inflows form a "
        "queue in arrival order and each traced outflow, in time order, takes from the front of "
        "what arrived at or before it (at most its amount); its attributed amount is the root's "
        "share of what it took. Other money of the account is not modelled."
    ),
    ("fifo", "up"): (
        "fifo: money leaves in the order it arrived; at each account the traced inflows form a "
        "queue in arrival order and each traced outflow toward the root, in time order, takes "
        "from the front of what arrived at or before it (at most its amount); an inflow's "
        "attributed amount is what those outflows took of it times their attributed fraction. "
        "Other money of the account is not modelled."
    ),
}


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).astimezone(TAIPEI).isoformat()


def check_trace_request(
    direction: str,
    hops: object,
    per_hop_limit: int,
    order: str,
    attribution: str,
    window_s: float | None,
) -> None:
    """A trace's parameters, refused clearly before any engine starts on them."""
    if direction not in ("up", "down"):
        raise AssistantError(f"方向須為 up 或 down / direction must be up or down: {direction}")
    if not isinstance(hops, int) or not 1 <= hops <= MAX_HOPS:
        raise AssistantError(
            f"層數須介於 1 到 {MAX_HOPS} / hops must be between 1 and {MAX_HOPS}: {hops}"
        )
    if per_hop_limit < 1:
        raise AssistantError("每層上限須至少為 1 / per_hop_limit must be at least 1")
    if order not in ("amount", "time"):
        raise AssistantError(f"排序須為 amount 或 time / order must be amount or time: {order}")
    if attribution not in ("proportional", "fifo"):
        raise AssistantError(
            "歸屬規則須為 proportional 或 fifo / attribution must be proportional or fifo"
        )
    if window_s is not None and window_s < 0:
        raise AssistantError("時間窗不可為負 / window_s must not be negative")


def trace_parameters(
    since: float | None,
    until: float | None,
    window_s: float,
    min_amount: float,
    per_hop_limit: int,
    order: str,
    attribution: str,
) -> dict[str, Any]:
    """What a trace was asked, as every engine reports it beside its result."""
    return {
        "since": since,
        "until": until,
        "since_iso": _iso(since) if since is not None else None,
        "until_iso": _iso(until) if until is not None else None,
        "window_s": window_s,
        "min_amount": min_amount,
        "per_hop_limit": per_hop_limit,
        "order": order,
        "attribution": attribution,
    }


def _heads(sorted_values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    new = np.empty(len(sorted_values), dtype=bool)
    new[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new[1:])
    return np.flatnonzero(new)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated positions of [starts[i], ends[i]) and the range number of each."""
    lens = ends - starts
    total = int(lens.sum())
    which = np.repeat(np.arange(len(starts)), lens)
    offsets = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lens)
    return pos, which


@dataclass
class TracedAccount:
    id: str
    hop: int
    role: str  # "root" | "intermediate" | "source" (upstream end) | "sink" (downstream end)
    # | "cash" (a bank's CASH account: the money left, or came into, the banking system as cash)
    # | "outside" (a party outside the ledger)
    total_in: float  # sum of the traced transfers into the account
    total_out: float  # sum of the traced transfers out of it
    attributed: float  # downstream: root's money received; upstream: money sent on to the root


@dataclass
class TracedTransfer:
    id: str
    ts: str  # ISO 8601, Asia/Taipei
    epoch: int
    from_account: str
    to_account: str
    amount: float
    hop: int
    attributed: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "epoch": self.epoch,
            "from": self.from_account,
            "to": self.to_account,
            "amount": self.amount,
            "hop": self.hop,
            "attributed": self.attributed,
        }


@dataclass
class Truncation:
    account: str
    hop: int
    kept: int
    dropped: int
    dropped_amount: float


@dataclass
class TraceResult:
    """A trace's answer. The engine fills numpy columns; ``accounts`` and ``transfers`` are the
    same answer as dataclass lists, built on first access.

    Account roles: ``root``; ``intermediate`` (the trace continues through it); downstream
    ``sink`` (no traced transfer leaves it: the money stops there or the hop limit was reached);
    upstream ``source`` (no traced transfer enters it). ``total_in`` / ``total_out`` sum the
    traced transfers only. ``attributed``: downstream, the root's money the account received;
    upstream, the money the account sent on that reached the root (for the root: the sum of the
    hop-1 transfers).
    """

    root: str
    direction: str
    hops: int
    parameters: dict[str, Any]
    truncated: list[Truncation] = field(default_factory=list)
    elapsed_ms: float = 0.0
    rule: str = ""
    columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    index: TransferIndex | None = field(default=None, repr=False, compare=False)

    @property
    def transfer_positions(self) -> np.ndarray:
        """Row numbers of the traced transfers in the index's arrays (hop, then time order)."""
        return self.columns.get("transfer", np.zeros(0, dtype=np.int64))

    def _transfer_rows(self) -> list[tuple[Any, ...]]:
        """(id, ts ISO, epoch, from, to, amount, hop, attributed) per traced transfer."""
        ix, c = self.index, self.columns
        if ix is None or len(self.transfer_positions) == 0:
            return []
        t = c["transfer"]
        ts = ix.ts[t]
        iso = np.char.add((ts + 8 * 3600).astype("datetime64[s]").astype(str), "+08:00")
        names = ix.accounts
        return list(
            zip(
                [str(i) for i in ix.ids[t].tolist()],
                iso.tolist(),
                ts.tolist(),
                [names[i] for i in ix.src[t].tolist()],
                [names[i] for i in ix.dst[t].tolist()],
                ix.amount[t].tolist(),
                c["hop"].tolist(),
                np.round(c["attributed"], 2).tolist(),
                strict=True,
            )
        )

    @cached_property
    def transfers(self) -> list[TracedTransfer]:
        return [TracedTransfer(*row) for row in self._transfer_rows()]

    @cached_property
    def accounts(self) -> list[TracedAccount]:
        ix, c = self.index, self.columns
        if ix is None or "account" not in c:
            return []
        names = ix.accounts
        return [
            TracedAccount(
                id=names[a],
                hop=h,
                role=ROLES[r],
                total_in=round(i, 2),
                total_out=round(o, 2),
                attributed=round(x, 2),
            )
            for a, h, r, i, o, x in zip(
                c["account"].tolist(),
                c["account_hop"].tolist(),
                c["role"].tolist(),
                c["total_in"].tolist(),
                c["total_out"].tolist(),
                c["account_attributed"].tolist(),
                strict=True,
            )
        ]

    @property
    def cash(self) -> list[dict[str, Any]]:
        """Per cash account the trace reached: the traced money withdrawn there (downstream)
        or deposited there (upstream), in attributed and in full amounts, and how many rows."""
        out = []
        for a in self.accounts:
            if a.role != "cash":
                continue
            rows = [
                t
                for t in self.transfers
                if (t.to_account if self.direction == "down" else t.from_account) == a.id
            ]
            out.append(
                {
                    "account": a.id,
                    "bank": a.id.removeprefix(CASH_ACCOUNT),
                    "kind": "cash_out" if self.direction == "down" else "cash_in",
                    "count": len(rows),
                    "amount": round(sum(t.amount for t in rows), 2),
                    "attributed": a.attributed,
                    "hops": sorted({t.hop for t in rows}),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "hops": self.hops,
            "parameters": dict(self.parameters),
            "accounts": [a.__dict__.copy() for a in self.accounts],
            "cash": self.cash,
            "transfers": [
                dict(zip(TRANSFER_KEYS, row, strict=True)) for row in self._transfer_rows()
            ],
            "truncated": [t.__dict__.copy() for t in self.truncated],
            "elapsed_ms": self.elapsed_ms,
            "rule": self.rule,
        }

    def to_csv(
        self,
        path_or_buffer: str | Path | io.TextIOBase | Any,
        evidence: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """The evidence table: one row per transfer, in hop then time order. With
        ``evidence`` (``Ledger.evidence``): each transfer's memo, and the amount and currency
        the file gave where the ledger holds it in NT$."""
        header = ["hop", "transfer_id", "ts", "from_account", "to_account", "amount", "attributed"]
        rows = [
            [t.hop, t.id, t.ts, t.from_account, t.to_account, t.amount, round(t.attributed, 2)]
            for t in self.transfers
        ]
        if evidence is not None:
            header += ["memo", "orig_amount", "orig_currency"]
            for row, t in zip(rows, self.transfers, strict=True):
                e = evidence.get(t.id, {})
                row += [e.get("memo", ""), e.get("orig_amount", ""), e.get("orig_currency", "")]
        # ids and memos come from the imported files: opened in a spreadsheet they are text
        rows = [[spreadsheet_safe(v) for v in row] for row in rows]
        if isinstance(path_or_buffer, str | Path):
            with open(path_or_buffer, "w", encoding="utf-8-sig", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                w.writerows(rows)
            return
        w = csv.writer(path_or_buffer)
        w.writerow(header)
        w.writerows(rows)


class _Adjacency:
    """One CSR side: transfers sorted by (account, relative time)."""

    def __init__(self, account: np.ndarray, rel: np.ndarray, n_accounts: int) -> None:
        key = (account.astype(np.int64) << TIME_BITS) | rel
        perm = np.argsort(key, kind="stable")
        idx_dtype = np.int32 if len(key) < 2**31 else np.int64
        self.perm = perm.astype(idx_dtype, copy=False)
        self.key = key[perm]
        counts = np.bincount(account, minlength=n_accounts)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def nbytes(self) -> int:
        return self.perm.nbytes + self.key.nbytes + self.indptr.nbytes


class TransferIndex:
    """Both adjacencies of a ledger's transfers, built once, traced many times."""

    def __init__(
        self,
        ids: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        accounts: list[str],
    ) -> None:
        t0 = time.perf_counter()
        n = len(ids)
        if not (len(src) == len(dst) == len(ts) == len(amount) == n):
            raise AssistantError("轉帳欄位長度不一致 / Transfer columns differ in length")
        if len(accounts) >= MAX_ACCOUNTS:
            raise AssistantError("帳戶數過多 / Too many accounts for the index")
        self.ids = ids
        self.accounts = list(accounts)
        self.n_accounts = len(self.accounts)
        self.src = np.asarray(src).astype(np.int32, copy=False)
        self.dst = np.asarray(dst).astype(np.int32, copy=False)
        self.ts = np.asarray(ts).astype(np.int64, copy=False)
        self.amount = np.asarray(amount).astype(np.float64, copy=False)
        if n and (
            self.src.min() < 0
            or self.dst.min() < 0
            or max(self.src.max(), self.dst.max()) >= self.n_accounts
        ):
            raise AssistantError("轉帳指向不存在的帳戶 / A transfer names an unknown account")
        self.tmin = int(self.ts.min()) if n else 0
        self.tmax = int(self.ts.max()) if n else 0
        if self.tmax - self.tmin > TIME_MASK:
            raise AssistantError("時間範圍過大 / Time span too large for the index")
        self.out = _Adjacency(self.src, self.ts - self.tmin, self.n_accounts)
        # In-edges by (dst, ts descending): upstream walks back in time with the same code.
        self.inn = _Adjacency(self.dst, self.tmax - self.ts, self.n_accounts)
        self._position = {a: i for i, a in enumerate(self.accounts)}
        # reserved endpoints: 1 a bank's CASH account, 2 OUTSIDE; a trace stops at either
        self.terminal = np.array(
            [(2 if a.startswith("OUTSIDE") else 1) if is_reserved(a) else 0 for a in accounts],
            dtype=np.int8,
        )
        self._scratch = threading.local()  # per-thread work arrays, left clean after each trace
        self.build_ms = (time.perf_counter() - t0) * 1000

    @classmethod
    def from_arrays(
        cls,
        ids: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        accounts: list[str],
    ) -> TransferIndex:
        return cls(ids, src, dst, ts, amount, accounts)

    @classmethod
    def from_ledger(cls, arrays: Any) -> TransferIndex:
        """From ``Ledger.arrays()`` (a ``LedgerArrays``), as the fraud service builds it."""
        return cls(
            arrays.transfer_ids,
            arrays.src,
            arrays.dst,
            arrays.ts,
            arrays.amount,
            list(arrays.account_ids),
        )

    @property
    def n_transfers(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's numeric arrays (the ids array is the caller's, not counted)."""
        cols = self.src.nbytes + self.dst.nbytes + self.ts.nbytes + self.amount.nbytes
        return cols + self.out.nbytes + self.inn.nbytes

    def position(self, account: str) -> int:
        try:
            return self._position[account]
        except KeyError:
            raise AssistantError(f"查無帳戶 {account} / Unknown account {account}") from None

    # -- the trace -------------------------------------------------------------------------

    def trace(
        self,
        account: str,
        direction: Direction,
        hops: int,
        *,
        since: int | None = None,
        until: int | None = None,
        window_s: int | None = None,
        min_amount: float = 0.0,
        per_hop_limit: int = 50,
        order: Order = "amount",
        attribution: Attribution = "proportional",
    ) -> TraceResult:
        """Trace ``account``'s money ``hops`` hops up- or downstream; see the module docstring
        for the time rule, the truncation rule and the attribution rules."""
        t0 = time.perf_counter()
        check_trace_request(direction, hops, per_hop_limit, order, attribution, window_s)
        root = self.position(account)
        if self.terminal[root]:
            raise AssistantError(
                f"{account} 是現金或行外的保留帳號，請追查客戶帳戶 / {account} is a reserved cash "
                "or outside endpoint, not a customer account; trace a customer's account"
            )
        seen, compact = self._work()
        touched: list[np.ndarray] = []
        try:
            return self._trace(
                account,
                root,
                direction,
                hops,
                since,
                until,
                window_s,
                min_amount,
                per_hop_limit,
                order,
                attribution,
                seen,
                compact,
                touched,
                t0,
            )
        finally:
            for cand in touched:
                seen[cand] = False

    def _work(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's "transfer seen" flags and account → compact number map (all clean)."""
        w = self._scratch
        if getattr(w, "seen", None) is None:
            w.seen = np.zeros(self.n_transfers, dtype=bool)
            w.compact = np.zeros(self.n_accounts, dtype=np.int64)
        return w.seen, w.compact

    def _trace(
        self,
        account: str,
        root: int,
        direction: Direction,
        hops: int,
        since: int | None,
        until: int | None,
        window_s: int | None,
        min_amount: float,
        per_hop_limit: int,
        order: Order,
        attribution: Attribution,
        seen: np.ndarray,
        compact: np.ndarray,
        touched: list[np.ndarray],
        t0: float,
    ) -> TraceResult:
        up = direction == "up"
        adj = self.inn if up else self.out
        near = self.dst if up else self.src  # the account a hop's transfer is expanded from
        far = self.src if up else self.dst  # the account it leads to (next hop expands it)
        levels: list[np.ndarray] = []
        cuts: list[Truncation] = []

        # Hop 1 bounds in relative time (0 = nearest the traced money).
        lo_ts = self.tmin if since is None else max(int(since), self.tmin)
        hi_ts = self.tmax if until is None else min(int(until), self.tmax)
        if up:
            lo1, hi1 = self.tmax - hi_ts, self.tmax - lo_ts
        else:
            lo1, hi1 = lo_ts - self.tmin, hi_ts - self.tmin
        groups: list[tuple[np.ndarray, np.ndarray]] = []  # per hop: expanded accounts, group
        frontier_acc = np.zeros(0, dtype=np.int64)
        frontier_rel = np.zeros(0, dtype=np.int64)
        for hop in range(1, hops + 1):
            if hop == 1:
                if lo1 > hi1:
                    break
                accts = np.array([root], dtype=np.int64)
                lo, hi = np.array([lo1], dtype=np.int64), np.array([hi1], dtype=np.int64)
            else:
                if len(frontier_acc) == 0:
                    break
                arrive_key = np.sort((frontier_acc << TIME_BITS) | frontier_rel)
                heads = _heads(arrive_key >> TIME_BITS)
                first = arrive_key[heads]
                accts = first >> TIME_BITS
                lo = first & TIME_MASK  # the earliest arrival per account
                hi = lo
                if window_s is not None:
                    last = np.empty_like(heads)
                    last[:-1] = heads[1:] - 1
                    last[-1] = len(arrive_key) - 1
                    hi = np.minimum((arrive_key[last] & TIME_MASK) + window_s, TIME_MASK)
            base = accts << TIME_BITS
            starts = np.searchsorted(adj.key, base | lo, side="left")
            if hop > 1 and window_s is None:
                ends = adj.indptr[accts + 1]  # no window: to the end of the account's run
            else:
                ends = np.searchsorted(adj.key, base | hi, side="right")
            pos, group = _ranges(starts, ends)
            if len(pos) == 0:
                break
            cand = adj.perm[pos]
            mask = ~seen[cand]
            if min_amount > 0:
                mask &= self.amount[cand] >= min_amount
            if hop > 1 and window_s is not None:
                keys = adj.key[pos]
                latest = np.searchsorted(arrive_key, keys, side="right") - 1
                mask &= keys - arrive_key[latest] <= window_s
            if not mask.all():
                cand, group = cand[mask], group[mask]
            if len(cand) == 0:
                break
            seen[cand] = True
            touched.append(cand)
            counts = np.bincount(group, minlength=len(accts))
            if counts.max() > per_hop_limit:
                if order == "amount":
                    o = np.lexsort((-self.amount[cand], group))
                    cand, group = cand[o], group[o]
                offsets = np.cumsum(counts) - counts
                rank = np.arange(len(cand)) - offsets[group]
                keep = rank < per_hop_limit
                dropped_amt = np.bincount(
                    group[~keep], weights=self.amount[cand[~keep]], minlength=len(accts)
                )
                for g in np.flatnonzero(counts > per_hop_limit).tolist():
                    cuts.append(
                        Truncation(
                            account=self.accounts[int(accts[g])],
                            hop=hop,
                            kept=per_hop_limit,
                            dropped=int(counts[g] - per_hop_limit),
                            dropped_amount=round(float(dropped_amt[g]), 2),
                        )
                    )
                cand, group = cand[keep], group[keep]
            ts = self.ts[cand]
            o = np.argsort(ts, kind="stable")
            cand, group, ts = cand[o], group[o], ts[o]
            levels.append(cand)
            groups.append((accts, group))
            frontier_acc = far[cand].astype(np.int64)
            frontier_rel = (self.tmax - ts) if up else (ts - self.tmin)
            # the money left (or entered) the banking system at a reserved endpoint: stop there
            onward = self.terminal[frontier_acc] == 0
            if not onward.all():
                frontier_acc, frontier_rel = frontier_acc[onward], frontier_rel[onward]

        attributed = self._attribute(levels, groups, up, near, far, attribution)
        result = self._result(account, root, direction, hops, levels, attributed, up, far, compact)
        result.truncated = cuts
        result.parameters = trace_parameters(
            since, until, window_s, min_amount, per_hop_limit, order, attribution
        )
        result.rule = RULES[(attribution, direction)]
        result.elapsed_ms = round((time.perf_counter() - t0) * 1000, 3)
        return result

    # -- attribution -----------------------------------------------------------------------

    def _attribute(
        self,
        levels: list[np.ndarray],
        groups: list[tuple[np.ndarray, np.ndarray]],
        up: bool,
        near: np.ndarray,
        far: np.ndarray,
        rule: Attribution,
    ) -> list[np.ndarray]:
        if not levels:
            return []
        out = [self.amount[levels[0]].copy()]
        for k in range(1, len(levels)):
            prev, cur = levels[k - 1], levels[k]
            prev_attr = out[-1]
            if rule == "proportional":
                # Hop k+1 was expanded from exactly the accounts hop k led to.
                # (a transfer into a reserved endpoint ended there: it is not expanded)
                accts, group = groups[k]
                led = far[prev]
                go_on = self.terminal[led] == 0
                inflow = np.searchsorted(accts, led[go_on])
                a = np.bincount(inflow, weights=prev_attr[go_on], minlength=len(accts))
                amt = self.amount[cur]
                flow = np.bincount(group, weights=amt, minlength=len(accts))
                share = np.divide(a, flow, out=np.zeros_like(a), where=flow > 0)
                out.append(amt * np.minimum(1.0, share[group]))
            else:
                out.append(self._fifo(prev, prev_attr, cur, up, near, far))
        return out

    def _fifo(
        self,
        prev: np.ndarray,
        prev_attr: np.ndarray,
        cur: np.ndarray,
        up: bool,
        near: np.ndarray,
        far: np.ndarray,
    ) -> np.ndarray:
        """FIFO matching per account between hop k (``prev``) and hop k+1 (``cur``)."""
        result = np.zeros(len(cur))
        by_acc: dict[int, list[int]] = {}
        for i, a in enumerate(far[prev].tolist()):
            by_acc.setdefault(a, []).append(i)
        cur_near = near[cur]
        for a in np.unique(cur_near).tolist():
            j_cur = np.flatnonzero(cur_near == a)
            i_prev = np.asarray(by_acc.get(a, []), dtype=np.int64)
            if len(i_prev) == 0:
                continue
            # Downstream the inflows are hop k, outflows hop k+1; upstream the reverse.
            if up:
                inflow, outflow = cur[j_cur], prev[i_prev]
                out_attr = prev_attr[i_prev]
            else:
                inflow, outflow = prev[i_prev], cur[j_cur]
                in_attr = prev_attr[i_prev]
            oi = np.argsort(self.ts[inflow], kind="stable")
            oo = np.argsort(self.ts[outflow], kind="stable")
            in_amt = self.amount[inflow][oi]
            out_amt = self.amount[outflow][oo]
            cum_in = np.r_[0.0, np.cumsum(in_amt)]
            arrived = cum_in[np.searchsorted(self.ts[inflow][oi], self.ts[outflow][oo], "right")]
            wanted = np.cumsum(out_amt)
            # Cumulative amount taken after each outflow: T_j = min(T_{j-1} + b_j, arrived_j).
            taken = wanted + np.minimum(0.0, np.minimum.accumulate(arrived - wanted))
            taken = np.r_[0.0, taken]
            if up:
                frac = np.divide(out_attr[oo], out_amt, out=np.zeros(len(oo)), where=out_amt > 0)
                carried = np.r_[0.0, np.cumsum(np.diff(taken) * frac)]
                got = np.diff(np.interp(cum_in, taken, carried))
                res = np.empty(len(oi))
                res[oi] = got
            else:
                taint = np.r_[0.0, np.cumsum(in_attr[oi])]
                got = np.diff(np.interp(taken, cum_in, taint))
                res = np.empty(len(oo))
                res[oo] = got
            result[j_cur] = np.maximum(res, 0.0)
        return result

    # -- the answer ------------------------------------------------------------------------

    def _result(
        self,
        account: str,
        root: int,
        direction: str,
        hops: int,
        levels: list[np.ndarray],
        attributed: list[np.ndarray],
        up: bool,
        far: np.ndarray,
        compact: np.ndarray,
    ) -> TraceResult:
        result = TraceResult(
            root=account, direction=direction, hops=hops, parameters={}, index=self
        )
        if not levels:
            result.columns = {
                "account": np.array([root]),
                "account_hop": np.zeros(1, dtype=np.int64),
                "role": np.zeros(1, dtype=np.int64),
                "total_in": np.zeros(1),
                "total_out": np.zeros(1),
                "account_attributed": np.zeros(1),
            }
            return result
        t = np.concatenate(levels)
        hop = np.repeat(np.arange(1, len(levels) + 1), [len(x) for x in levels])
        attr = np.concatenate(attributed)
        src, dst, amt = self.src[t], self.dst[t], self.amount[t]
        accts = np.unique(np.concatenate([[root], src, dst]))
        n = len(accts)
        compact[accts] = np.arange(n)
        inv_src, inv_dst, r = compact[src], compact[dst], int(compact[root])
        total_in = np.bincount(inv_dst, weights=amt, minlength=n)
        total_out = np.bincount(inv_src, weights=amt, minlength=n)
        credited = inv_src if up else inv_dst
        acc_attr = np.bincount(credited, weights=attr, minlength=n)
        first_hop = np.full(n, hops + 1, dtype=np.int64)
        np.minimum.at(first_hop, inv_src if up else inv_dst, hop)
        onward = np.bincount(inv_dst if up else inv_src, minlength=n) > 0
        role = np.where(onward, 1, 2 if up else 3)
        term = self.terminal[accts]
        role = np.where(term > 0, 3 + term, role)
        first_hop[r], role[r] = 0, 0
        acc_attr[r] = float(amt[hop == 1].sum())
        o = np.lexsort((accts, first_hop))
        result.columns = {
            "transfer": t,
            "hop": hop,
            "attributed": attr,
            "account": accts[o],
            "account_hop": first_hop[o],
            "role": role[o],
            "total_in": total_in[o],
            "total_out": total_out[o],
            "account_attributed": acc_attr[o],
        }
        return result
