"""Per-account features for mule scoring, computed in bulk from ``Ledger.arrays()``.

Everything is vectorised with numpy (``bincount``, ``unique``, ``searchsorted``); there is no
Python loop over transfers. Rows follow ``arrays.account_ids``. ``NaN`` means "not defined for
this account" (no incoming money for a ratio, no known opening date, …); the scorer's model
handles missing values natively.

Definitions (Taiwan local time is UTC+8; a "transfer of the account" counts both directions):

- ``fan_in`` / ``fan_out``: transfers received / sent (multigraph in- and out-degree).
- ``in_degree`` / ``out_degree``: distinct counterparties that sent to / received from the
  account (simple-graph degree; the "distinct counterparties in/out").
- ``total_in`` / ``total_out``: sums of amounts received / sent.
- ``pass_through``: ``total_out / total_in`` (NaN when nothing came in).
- ``dwell_median_h``: hours from an incoming transfer to the account's next outgoing transfer
  at or after it, median over the incoming transfers that have one (NaN when none). An
  approximation: every incoming transfer is paired with the first later outgoing one, whether
  or not that one carried "its" money, and one outgoing transfer may be paired with many
  incoming ones.
- ``velocity``: transfers per active day (a day, local time, with at least one transfer).
- ``night_share``: share of transfers between 22:00 and 06:00 local time.
- ``round_1000_share`` / ``round_10000_share``: share of transfers whose amount is a whole
  multiple of NT$1,000 / NT$10,000.
- ``active_days``: days, local time, with at least one transfer.
- ``median_in_amount`` / ``median_out_amount``: median amount received / sent (NaN if none);
  ``min_amount``: the smallest transfer either way.
- ``repeat_share``: ``1 − (in_degree + out_degree) / (fan_in + fan_out)``, the share of
  transfers that repeat a counterparty-and-direction already seen.
- ``max_recipient_in_degree`` / ``max_sender_out_degree``: the largest ``in_degree`` among the
  accounts this one sends to / the largest ``out_degree`` among those that send to it (0 if
  none): sending into a collecting account, or being fed by a distributing one.
- ``nbr_max_repeat_share`` / ``nbr_min_amount``: over the account's counterparties (either
  direction), the largest ``repeat_share`` and the smallest ``min_amount`` (label-free
  second-order features: dealing with an account that itself looks odd).
- ``age_days``: days from ``opened`` to ``as_of`` (default: the last transfer); NaN unknown.
- ``flagged_links``: distinct counterparties (either direction) whose *status* is 警示 or
  衍生管制. Only ``status`` is read, never ``is_fraud`` or ``pattern``, so the feature carries
  no ground-truth label into a cross-validation fold. The account's own status is not a
  feature (it is the very thing a score should anticipate).
- ``to_mean_<f>`` / ``from_mean_<f>``: the mean of base feature ``<f>`` over the distinct
  accounts this one sends to / receives from (NaN without any). A mule ring shows in its
  members' counterparties as much as in the members: a sender into a fan-in is an ordinary
  account whose recipients are not. Label-free (they aggregate features, not labels), so
  they are safe inside cross-validation; on the AMLSim sample they lift the cross-validated
  AUC from 0.940 to 0.950.

Cash and outside parties. Every feature above is computed over transfers between customer
accounts only: a bank's CASH account or the OUTSIDE party (``records.is_reserved``) would
otherwise be a hub that every account "sends to", and would make every neighbour feature
meaningless. The money that enters or leaves the banking system has features of its own:

- ``cash_in_count`` / ``cash_out_count``, ``cash_in_total`` / ``cash_out_total``: deposits and
  withdrawals; ``outside_in_total`` / ``outside_out_total``: transfers from / to a party outside
  the ledger (salaries and bills in a simulation).
- ``cash_out_share``: withdrawn cash over all money received (transfers, deposits, outside);
  ``exit_share``: everything that left (transfers, withdrawals, outside) over all received.
- ``cash_out_dwell_median_h``: hours from an incoming transfer to the account's next
  withdrawal at or after it, median (the 車手's speed; the same approximation as ``dwell``).
- ``atm_share`` / ``counter_share``: of the account's cash events, the share at an ATM / over
  the counter (臨櫃), NaN without cash events (or without channels in the export).
- ``near_threshold_share``: share of the account's rows, any kind and direction, with an amount
  just under the cash-reporting threshold (``CashRules``: from ``threshold × (1 − band)`` up to
  but not including the threshold; settings ``fraud.report_threshold`` and
  ``fraud.structuring_band``); ``near_threshold_count`` the number. NaN without ``CashRules``.

These are base features too, so the counterparty means cover them (``to_mean_cash_out_share``:
the accounts it pays withdraw what they get, the shape of a chain ending at a 車手).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from assistant.fraud.ledger import Ledger, LedgerArrays

TAIPEI_OFFSET = 8 * 3600
FLAGGED_STATUSES = frozenset({"警示", "衍生管制"})

FEATURE_NAMES: tuple[str, ...] = (
    "fan_in",
    "fan_out",
    "in_degree",
    "out_degree",
    "total_in",
    "total_out",
    "pass_through",
    "dwell_median_h",
    "velocity",
    "active_days",
    "night_share",
    "round_1000_share",
    "round_10000_share",
    "median_in_amount",
    "median_out_amount",
    "min_amount",
    "repeat_share",
    "max_recipient_in_degree",
    "max_sender_out_degree",
    "nbr_max_repeat_share",
    "nbr_min_amount",
    "age_days",
    "flagged_links",
)
CASH_FEATURES: tuple[str, ...] = (
    "cash_in_count",
    "cash_out_count",
    "cash_in_total",
    "cash_out_total",
    "outside_in_total",
    "outside_out_total",
    "cash_out_share",
    "exit_share",
    "cash_out_dwell_median_h",
    "atm_share",
    "counter_share",
    "near_threshold_count",
    "near_threshold_share",
)
FEATURE_NAMES += CASH_FEATURES
BASE_FEATURES = FEATURE_NAMES
FEATURE_NAMES = (
    BASE_FEATURES
    + tuple(f"to_mean_{f}" for f in BASE_FEATURES)
    + tuple(f"from_mean_{f}" for f in BASE_FEATURES)
)
# The base features an account's own transfers settle one by one, in O(1) each: what the
# transfer monitor keeps up to date as transfers arrive (``monitor.mule_score``) and what a mule
# score on arrival reads. Left out: medians and dwell times (they need each account's history),
# neighbours' features (a transfer would change its counterparties' rows too), and what needs
# the account's metadata (age, flagged links) or the cash channel.
_NOT_STREAMED = frozenset(
    {
        "dwell_median_h",
        "median_in_amount",
        "median_out_amount",
        "max_recipient_in_degree",
        "max_sender_out_degree",
        "nbr_max_repeat_share",
        "nbr_min_amount",
        "age_days",
        "flagged_links",
        "cash_out_dwell_median_h",
        "atm_share",
        "counter_share",
    }
)
STREAM_FEATURES: tuple[str, ...] = tuple(f for f in BASE_FEATURES if f not in _NOT_STREAMED)
DEGREE_FEATURES: tuple[str, ...] = ("fan_in", "fan_out", "in_degree", "out_degree")
# The baseline a scorer must beat: how many, with how many, and how much, cash included.
DEGREE_AMOUNT_FEATURES: tuple[str, ...] = (
    *DEGREE_FEATURES,
    "total_in",
    "total_out",
    "median_in_amount",
    "median_out_amount",
    "cash_in_count",
    "cash_out_count",
    "cash_in_total",
    "cash_out_total",
    "outside_in_total",
    "outside_out_total",
)


@dataclass(frozen=True)
class CashRules:
    """The reporting rule the structuring features measure against (from the settings)."""

    report_threshold: float  # NT$; an amount at or above it is reported
    structuring_band: float  # "just under": within this share of the threshold below it


# feature → (Traditional Chinese, English): what an investigator reads next to a score.
FEATURE_TEXT: dict[str, tuple[str, str]] = {
    "fan_in": ("轉入筆數多（多筆匯入集中於此帳戶）", "many incoming transfers (fan-in)"),
    "fan_out": ("轉出筆數多（款項分散轉出）", "many outgoing transfers (fan-out)"),
    "in_degree": ("匯款來源帳戶多（多人匯入）", "many distinct senders"),
    "out_degree": ("收款對象帳戶多（分散匯出）", "many distinct recipients"),
    "total_in": ("轉入總金額", "total amount received"),
    "total_out": ("轉出總金額", "total amount sent"),
    "pass_through": (
        "轉入款項幾乎全數轉出（過水帳戶）",
        "money received is passed on almost entirely (pass-through)",
    ),
    "dwell_median_h": (
        "款項停留時間短，轉入後很快轉出（短時間內多筆轉入轉出／過水）",
        "money stays only briefly: quickly sent on after it arrives",
    ),
    "velocity": ("每個活躍日交易筆數多（交易頻繁）", "many transfers per active day"),
    "active_days": ("有交易的天數", "number of days with transfers"),
    "night_share": ("深夜時段（22:00–06:00）交易比例", "share of transfers at night (22:00–06:00)"),
    "round_1000_share": ("整數千元金額交易比例", "share of amounts in whole thousands (NT$)"),
    "round_10000_share": ("整數萬元金額交易比例", "share of amounts in whole ten-thousands (NT$)"),
    "median_in_amount": ("轉入金額中位數", "median amount received"),
    "median_out_amount": ("轉出金額中位數", "median amount sent"),
    "min_amount": ("最小交易金額（小額試探性轉帳）", "smallest transfer (small test transfers)"),
    "repeat_share": (
        "與同一帳戶反覆往來的比例",
        "share of transfers repeating an earlier counterparty",
    ),
    "max_recipient_in_degree": (
        "轉出對象為集中收款帳戶（該帳戶有多個匯款來源）",
        "sends to a collecting account (one with many senders)",
    ),
    "max_sender_out_degree": (
        "款項來自分散匯出的帳戶（該帳戶匯給多人）",
        "receives from an account that pays many others",
    ),
    "nbr_max_repeat_share": (
        "往來帳戶本身與同一對象反覆轉帳",
        "a counterparty itself repeatedly transfers with the same accounts",
    ),
    "nbr_min_amount": (
        "往來帳戶有極小額（試探性）轉帳",
        "a counterparty makes very small (test) transfers",
    ),
    "age_days": ("開戶時間（新開戶帳戶風險較高）", "account age (newly opened accounts)"),
    "flagged_links": (
        "與警示或衍生管制帳戶有往來",
        "transfers with accounts already flagged (警示 / 衍生管制)",
    ),
    "cash_in_count": ("現金存入筆數", "number of cash deposits"),
    "cash_out_count": ("現金提領筆數多（車手提款）", "many cash withdrawals"),
    "cash_in_total": ("現金存入總金額", "total cash deposited"),
    "cash_out_total": ("現金提領總金額", "total cash withdrawn"),
    "outside_in_total": ("來自行外不明對象的金額", "money from parties outside the ledger"),
    "outside_out_total": ("付給行外不明對象的金額", "money paid to parties outside the ledger"),
    "cash_out_share": (
        "轉入款項多以現金提領（款項離開銀行體系）",
        "much of the money received is withdrawn in cash (it leaves the banking system)",
    ),
    "exit_share": ("轉入款項幾乎全數流出（轉出或提領）", "almost all money received leaves again"),
    "cash_out_dwell_median_h": (
        "款項轉入後很快以現金提領",
        "cash is withdrawn soon after money arrives",
    ),
    "atm_share": ("現金交易多在 ATM", "cash moved mostly at ATMs"),
    "counter_share": ("現金交易多在臨櫃", "cash moved mostly over the counter (臨櫃)"),
    "near_threshold_count": (
        "金額略低於大額申報門檻的筆數（疑似拆分規避申報）",
        "amounts just under the reporting threshold (possible structuring)",
    ),
    "near_threshold_share": (
        "金額略低於大額申報門檻的比例（疑似拆分規避申報）",
        "share of amounts just under the reporting threshold (possible structuring)",
    ),
}


FEATURE_TEXT.update(
    {
        f"to_mean_{f}": (f"轉出對象平均：{zh}", f"accounts it sends to, on average: {en}")
        for f, (zh, en) in list(FEATURE_TEXT.items())
    }
    | {
        f"from_mean_{f}": (f"匯款來源平均：{zh}", f"accounts that send to it, on average: {en}")
        for f, (zh, en) in list(FEATURE_TEXT.items())
    }
)


def account_meta(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """``{account id: {"opened": date | None, "status": str}}`` from the account table. Reads
    neither ``is_fraud`` nor ``pattern``: features must not see the labels."""
    from assistant.fraud.records import AccountRow

    t = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.opened, t.c.status)).all()
    return {r[0]: {"opened": r[1], "status": r[2]} for r in rows}


def _epoch(value: Any) -> float:
    """A date, datetime, ISO text or epoch number → epoch seconds (NaN for None / bad)."""
    if value is None:
        return np.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return np.nan
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    return np.nan


def _group_median(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per ``group`` id in ``[0, n)``; NaN for empty groups."""
    out = np.full(n, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    counts = np.bincount(g, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def account_features(
    arrays: LedgerArrays,
    accounts_meta: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    as_of: int | None = None,
    rules: CashRules | None = None,
) -> tuple[list[str], np.ndarray]:
    """``(FEATURE_NAMES as a list, X)`` with one row per ``arrays.account_ids``. ``accounts_meta``
    maps an account id to ``{"opened", "status"}`` (see ``account_meta``); without it
    ``age_days`` is NaN and ``flagged_links`` 0. ``as_of``: epoch seconds for ``age_days``
    (default: the last transfer, or now for an empty ledger). ``rules``: the reporting
    threshold for the structuring features (NaN without)."""
    n = len(arrays.account_ids)
    all_src = np.asarray(arrays.src, dtype=np.int64)
    all_dst = np.asarray(arrays.dst, dtype=np.int64)
    all_ts = np.asarray(arrays.ts, dtype=np.int64)
    all_amt = np.asarray(arrays.amount, dtype=np.float64)
    reserved = arrays.reserved
    # customer-to-customer transfers only (see the module docstring)
    between = (arrays.kinds() == 0) & ~reserved[all_src] & ~reserved[all_dst]
    src, dst, ts, amt = all_src[between], all_dst[between], all_ts[between], all_amt[between]
    m = len(src)
    cols: dict[str, np.ndarray] = {}

    fan_in = np.bincount(dst, minlength=n).astype(float)
    fan_out = np.bincount(src, minlength=n).astype(float)
    cols["fan_in"], cols["fan_out"] = fan_in, fan_out
    pairs = np.unique(src * n + dst) if m else np.zeros(0, dtype=np.int64)
    cols["in_degree"] = np.bincount(pairs % n, minlength=n).astype(float)
    cols["out_degree"] = np.bincount(pairs // n, minlength=n).astype(float)
    total_in = np.bincount(dst, weights=amt, minlength=n)
    total_out = np.bincount(src, weights=amt, minlength=n)
    cols["total_in"], cols["total_out"] = total_in, total_out
    cols["pass_through"] = _safe_div(total_out, total_in)

    # dwell: each incoming transfer → the receiving account's first outgoing one at or after it
    if m:
        t_rel = ts - ts.min()
        span = int(t_rel.max()) + 1
        out_key = np.sort(src * span + t_rel)
        in_key = dst * span + t_rel
        pos = np.searchsorted(out_key, in_key, side="left")
        found = pos < m
        same = out_key[np.minimum(pos, m - 1)] // span == dst
        found &= same
        dwell = (out_key[pos[found]] % span - t_rel[found]) / 3600.0
        cols["dwell_median_h"] = _group_median(dst[found], dwell, n)
    else:
        cols["dwell_median_h"] = np.full(n, np.nan)

    # per-event columns: each transfer counts once for its sender and once for its receiver
    acct = np.concatenate((src, dst))
    local = np.concatenate((ts, ts)) + TAIPEI_OFFSET
    events = np.bincount(acct, minlength=n).astype(float)
    day = local // 86400
    if m:
        day_rel = day - day.min()
        ndays = int(day_rel.max()) + 1
        acct_days = np.unique(acct * ndays + day_rel)
        active = np.bincount(acct_days // ndays, minlength=n).astype(float)
    else:
        active = np.zeros(n)
    cols["velocity"] = _safe_div(events, active)
    cols["active_days"] = active
    hour = (local % 86400) // 3600
    night = (hour >= 22) | (hour < 6)
    cols["night_share"] = _safe_div(np.bincount(acct, weights=night, minlength=n), events)
    amt2 = np.concatenate((amt, amt))
    cents = np.round(amt2 * 100).astype(np.int64)
    for unit, name in ((1000, "round_1000_share"), (10000, "round_10000_share")):
        is_round = (cents > 0) & (cents % (unit * 100) == 0)
        cols[name] = _safe_div(np.bincount(acct, weights=is_round, minlength=n), events)

    cols["median_in_amount"] = _group_median(dst, amt, n)
    cols["median_out_amount"] = _group_median(src, amt, n)
    min_amt = np.full(n, np.inf)
    np.minimum.at(min_amt, acct, amt2)
    cols["min_amount"] = np.where(np.isfinite(min_amt), min_amt, np.nan)
    cols["repeat_share"] = 1.0 - _safe_div(cols["in_degree"] + cols["out_degree"], fan_in + fan_out)
    max_rec = np.zeros(n)
    max_snd = np.zeros(n)
    if m:
        ps, pd = pairs // n, pairs % n
        np.maximum.at(max_rec, ps, cols["in_degree"][pd])
        np.maximum.at(max_snd, pd, cols["out_degree"][ps])
    cols["max_recipient_in_degree"], cols["max_sender_out_degree"] = max_rec, max_snd
    nbr_rep = np.zeros(n)
    nbr_min = np.full(n, np.inf)
    if m:
        a_, b_ = np.concatenate((ps, pd)), np.concatenate((pd, ps))
        np.fmax.at(nbr_rep, a_, cols["repeat_share"][b_])
        np.fmin.at(nbr_min, a_, cols["min_amount"][b_])
    cols["nbr_max_repeat_share"] = nbr_rep
    cols["nbr_min_amount"] = np.where(np.isfinite(nbr_min), nbr_min, np.nan)

    # account metadata: age and links to flagged accounts (status only, never labels)
    meta = accounts_meta or {}
    if as_of is None:
        as_of = int(all_ts.max()) if len(all_ts) else int(datetime.now(UTC).timestamp())
    ids = arrays.account_ids.tolist()
    opened = np.array([_epoch(meta.get(a, {}).get("opened")) for a in ids], dtype=float)
    cols["age_days"] = (as_of - opened) / 86400.0
    flagged = np.array([meta.get(a, {}).get("status") in FLAGGED_STATUSES for a in ids], dtype=bool)
    if m and flagged.any():
        und = np.unique(np.concatenate((pairs, (pairs % n) * n + pairs // n)))
        a, b = und // n, und % n
        keep = (a != b) & flagged[b]
        cols["flagged_links"] = np.bincount(a[keep], minlength=n).astype(float)
    else:
        cols["flagged_links"] = np.zeros(n)
    cols.update(_cash_features(arrays, reserved, total_in, total_out, n, rules))

    base = np.column_stack([cols[c] for c in BASE_FEATURES]) if n else np.zeros((0, 0))
    if n:
        ps_, pd_ = (pairs // n, pairs % n) if m else (np.zeros(0, np.int64),) * 2
        cols_to = _neighbour_mean(ps_, pd_, base, n)
        cols_from = _neighbour_mean(pd_, ps_, base, n)
        X = np.hstack((base, cols_to, cols_from))
    else:
        X = np.zeros((0, len(FEATURE_NAMES)))
    return list(FEATURE_NAMES), X


def _cash_features(
    arrays: LedgerArrays,
    reserved: np.ndarray,
    total_in: np.ndarray,
    total_out: np.ndarray,
    n: int,
    rules: CashRules | None,
) -> dict[str, np.ndarray]:
    """The cash and outside-party features (see the module docstring), keyed by name."""
    src = np.asarray(arrays.src, dtype=np.int64)
    dst = np.asarray(arrays.dst, dtype=np.int64)
    ts = np.asarray(arrays.ts, dtype=np.int64)
    amt = np.asarray(arrays.amount, dtype=np.float64)
    kind = arrays.kinds()
    channel = arrays.channels()
    cin, cout = kind == 1, kind == 2
    plain = kind == 0
    out_in = plain & reserved[src] & ~reserved[dst]  # from OUTSIDE (or an unmarked CASH row)
    out_out = plain & reserved[dst] & ~reserved[src]
    cols: dict[str, np.ndarray] = {}
    cols["cash_in_count"] = np.bincount(dst[cin], minlength=n).astype(float)
    cols["cash_out_count"] = np.bincount(src[cout], minlength=n).astype(float)
    cols["cash_in_total"] = np.bincount(dst[cin], weights=amt[cin], minlength=n)
    cols["cash_out_total"] = np.bincount(src[cout], weights=amt[cout], minlength=n)
    cols["outside_in_total"] = np.bincount(dst[out_in], weights=amt[out_in], minlength=n)
    cols["outside_out_total"] = np.bincount(src[out_out], weights=amt[out_out], minlength=n)
    received = total_in + cols["cash_in_total"] + cols["outside_in_total"]
    cols["cash_out_share"] = _safe_div(cols["cash_out_total"], received)
    left = total_out + cols["cash_out_total"] + cols["outside_out_total"]
    cols["exit_share"] = _safe_div(left, received)

    # speed of cash-out: each incoming (non-cash) transfer → the next withdrawal at or after it
    cols["cash_out_dwell_median_h"] = np.full(n, np.nan)
    incoming = plain & ~reserved[dst]
    if cout.any() and incoming.any():
        t_rel = ts - ts.min()
        span = int(t_rel.max()) + 1
        out_key = np.sort(src[cout] * span + t_rel[cout])
        d_in, t_in = dst[incoming], t_rel[incoming]
        pos = np.searchsorted(out_key, d_in * span + t_in, side="left")
        ok = pos < len(out_key)
        ok &= out_key[np.minimum(pos, len(out_key) - 1)] // span == d_in
        wait = (out_key[pos[ok]] % span - t_in[ok]) / 3600.0
        cols["cash_out_dwell_median_h"] = _group_median(d_in[ok], wait, n)

    cash = cin | cout
    who = np.where(cin, dst, src)[cash]
    events = np.bincount(who, minlength=n).astype(float)
    for code, name in ((1, "atm_share"), (2, "counter_share")):
        hit = np.bincount(who, weights=channel[cash] == code, minlength=n)
        cols[name] = _safe_div(hit, events)

    if rules is None:
        cols["near_threshold_count"] = np.full(n, np.nan)
        cols["near_threshold_share"] = np.full(n, np.nan)
        return cols
    hi = rules.report_threshold
    lo = hi * (1.0 - rules.structuring_band)
    near = (amt >= lo) & (amt < hi)
    acct = np.concatenate((src, dst))
    mine = ~reserved[acct]  # count for customers, not for the CASH / OUTSIDE endpoints
    near2 = np.concatenate((near, near))[mine]
    acct = acct[mine]
    count = np.bincount(acct, weights=near2, minlength=n)
    cols["near_threshold_count"] = count
    cols["near_threshold_share"] = _safe_div(count, np.bincount(acct, minlength=n).astype(float))
    return cols


def _neighbour_mean(a: np.ndarray, b: np.ndarray, V: np.ndarray, n: int) -> np.ndarray:
    """Per account ``i``: the mean of ``V[j]`` over the pairs ``(i, j)`` in ``(a, b)``, column by
    column, skipping NaN; NaN where ``i`` has no pair (or only NaN values)."""
    out = np.full((n, V.shape[1]), np.nan)
    for j in range(V.shape[1]):
        v = V[b, j]
        ok = ~np.isnan(v)
        cnt = np.bincount(a[ok], minlength=n)
        tot = np.bincount(a[ok], weights=v[ok], minlength=n)
        has = cnt > 0
        out[has, j] = tot[has] / cnt[has]
    return out


def within_ledger_ranks(X: np.ndarray) -> np.ndarray:
    """Each column as the accounts' percentile within this ledger (mean rank of ties over the
    accounts where it is defined, in (0, 1]); NaN stays NaN. Label-free, and it takes the units
    out: an amount in NT$ and one in another currency, or a ledger of a busier bank, rank alike,
    so a model fitted on one ledger reads another (measured in ``evals.fraud``)."""
    from scipy.stats import rankdata

    X = np.asarray(X, dtype=float)
    R = np.full(X.shape, np.nan)
    for j in range(X.shape[1]):
        ok = np.isfinite(X[:, j])
        if ok.any():
            R[ok, j] = rankdata(X[ok, j]) / ok.sum()
    return R
