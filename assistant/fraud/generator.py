"""A synthetic ledger with planted fraud, seeded and reproducible.

Everyday flows are drawn in bulk with numpy (Taiwan local time, UTC+8, stored as UTC):

- salaries: each employed person gets one transfer a month from their employer's payroll
  account on the employer's payday (5th, 10th or 25th), 09:00–10:00;
- rent: tenants pay a landlord once a month, 1st–5th;
- bills: payments to a few billers (電費, 水費, 電信, 保險), once a month per payer;
- merchants: many small payments (NT$80–5,000) to merchants chosen by popularity (Zipf), with a
  lunch and evening peak and more on weekends;
- ATM withdrawals: multiples of NT$1,000 to the bank's cash account ``CASH<code>``;
- P2P transfers between people, mostly on weekdays.

Fraud rings (``fraud_rings`` of them) each have 1–3 first-layer mules (recently opened accounts),
each paid by 3–7 victims (fan-in); every tranche is passed on within minutes to hours, slightly
reduced, and the ring's layering kind follows, taking turns: ``chain`` (3–5 hops across banks),
``scatter_gather`` (3–6 accounts in other banks, then one collector), ``cycle`` (through 3–4
accounts back to the mule) and ``fan_in`` (straight to one collector). Every ring ends in ATM
cash-outs of at most NT$20,000 each. Ground truth: ``AccountRow.is_fraud`` (ring accounts True,
every other customer account, victims included, False; the banks' cash pseudo-accounts None), ``pattern`` = ``"<ring>:<kind>/<role>"`` on accounts and ``"<ring>:<kind>"`` on
transfers, and ``GeneratedLedger.patterns`` with each tranche's path of transfer positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from assistant.fraud.ledger import Ledger, TransferArrays

# code → (name, account-number digits)
BANKS: dict[str, tuple[str, int]] = {
    "004": ("臺灣銀行", 12),
    "005": ("土地銀行", 12),
    "006": ("合作金庫", 13),
    "007": ("第一銀行", 11),
    "008": ("華南銀行", 12),
    "009": ("彰化銀行", 14),
    "012": ("台北富邦", 12),
    "013": ("國泰世華", 12),
    "017": ("兆豐銀行", 11),
    "700": ("中華郵政", 14),
    "808": ("玉山銀行", 13),
    "822": ("中國信託", 12),
}
_BANK_WEIGHT = np.array([12, 8, 9, 9, 8, 7, 8, 10, 6, 12, 9, 12], dtype=float)
TAIPEI_OFFSET = 8 * 3600
KINDS = ("chain", "scatter_gather", "cycle", "fan_in")
ATM_LIMIT = 20_000.0
# weights by hour of day (local) and by weekday (Mon … Sun)
_HOUR_SHOP = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 3, 3, 5, 8, 6, 4, 4, 4, 5, 8, 9, 8, 6, 4, 2], float
)
_HOUR_OFFICE = np.array(
    [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 6, 7, 6, 4, 5, 6, 6, 5, 4, 3, 3, 3, 2, 1, 0.5], float
)
_DOW_SHOP = np.array([1.0, 1.0, 1.0, 1.0, 1.2, 1.6, 1.5])
_DOW_OFFICE = np.array([1.3, 1.2, 1.2, 1.2, 1.3, 0.5, 0.4])


@dataclass
class PlantedPattern:
    """One planted ring: its accounts by role and each tranche's path (transfer positions in
    ``GeneratedLedger.transfers``, in time order)."""

    id: str
    kind: str
    victims: list[str]
    mules: list[str]
    layer: list[str]
    cashout: list[str]
    paths: list[list[int]] = field(default_factory=list)

    @property
    def fraud_accounts(self) -> list[str]:
        return list(dict.fromkeys(self.mules + self.layer + self.cashout))


@dataclass
class GeneratedLedger:
    banks: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    transfers: TransferArrays
    patterns: list[PlantedPattern]
    seed: int

    def write_to(self, ledger: Ledger) -> dict[str, int]:
        return ledger.bulk_insert(self.banks, self.accounts, self.transfers)

    @property
    def labels(self) -> dict[str, bool]:
        """Ground truth per labelled account: True for ring accounts, False for victims."""
        return {a["id"]: a["is_fraud"] for a in self.accounts if a["is_fraud"] is not None}


def _local_epoch(day0: date) -> int:
    return int(datetime(day0.year, day0.month, day0.day, tzinfo=UTC).timestamp())


def generate(
    n_accounts: int,
    n_transfers: int,
    *,
    seed: int,
    start: date,
    days: int,
    fraud_rings: int,
    rented_share: float = 0.0,
    reuse_share: float = 0.0,
) -> GeneratedLedger:
    """About ``n_transfers`` transfers (everyday flows fill what the rings leave) among
    ``n_accounts`` accounts over ``days`` days from ``start``.

    ``rented_share``: the share of first-layer mules that are rented or bought accounts (人頭帳戶
    of people with years of ordinary activity) instead of recently opened ones. ``reuse_share``:
    the chance that a layering or cash-out account is one an earlier ring already used (a
    professional laundering hub serving several rings, busy as few customers are). Both 0 by
    default: the ledger of a seed stays what it was."""
    if not (0.0 <= rented_share <= 1.0 and 0.0 <= reuse_share <= 1.0):
        raise ValueError("rented_share and reuse_share are shares between 0 and 1")
    if n_accounts < 200 or n_transfers < 1000 or days < 7 or fraud_rings < 0:
        raise ValueError("need n_accounts ≥ 200, n_transfers ≥ 1000, days ≥ 7, fraud_rings ≥ 0")
    rng = np.random.default_rng(seed)
    codes = np.array(list(BANKS), dtype=object)
    day0 = _local_epoch(start)  # local midnight as if UTC; shifted at the end

    # ---------------------------------------------------------------- accounts
    bank_i = rng.choice(len(codes), size=n_accounts, p=_BANK_WEIGHT / _BANK_WEIGHT.sum())
    digits = np.array([BANKS[c][1] for c in codes])[bank_i]
    numbers = rng.integers(0, 10**11, size=n_accounts, dtype=np.int64)
    ids = np.empty(n_accounts, dtype=object)
    seen: set[str] = set()
    for i in range(n_accounts):
        num = str(numbers[i]).zfill(digits[i])[-digits[i] :]
        acct = codes[bank_i[i]] + num
        while acct in seen:
            num = str(rng.integers(0, 10 ** digits[i])).zfill(digits[i])
            acct = codes[bank_i[i]] + num
        seen.add(acct)
        ids[i] = acct
    acct_bank = codes[bank_i]
    # roles by position: employers, merchants, landlords, billers, then people
    n_emp = max(3, n_accounts // 200)
    n_mer = max(5, n_accounts * 3 // 100)
    n_land = max(3, n_accounts * 4 // 100)
    n_bill = 4
    emp = np.arange(n_emp)
    mer = np.arange(n_emp, n_emp + n_mer)
    land = np.arange(mer[-1] + 1, mer[-1] + 1 + n_land)
    bill = np.arange(land[-1] + 1, land[-1] + 1 + n_bill)
    people = np.arange(bill[-1] + 1, n_accounts)
    opened_days = rng.integers(30, 3650, size=n_accounts)

    # ---------------------------------------------------------------- fraud rings
    ring_rows: list[tuple[int, int, int, float, str, str]] = []  # (src, dst, ts, amt, ch, pat)
    patterns: list[PlantedPattern] = []
    labels: dict[int, tuple[bool, str, str]] = {}
    pool = rng.permutation(people)
    take = 0

    def draw(k: int) -> list[int]:
        nonlocal take
        out = pool[take : take + k].tolist()
        take += k
        if len(out) < k:
            raise ValueError("too few accounts for the fraud rings asked for")
        return out

    cash = {c: f"CASH{c}" for c in codes}
    cash_ids = list(cash.values())
    cash_index = {c: n_accounts + i for i, c in enumerate(codes)}
    all_ids = np.concatenate([ids, np.array(cash_ids, dtype=object)])
    all_bank = np.concatenate([acct_bank, codes])

    hubs: list[int] = []  # layering and cash-out accounts of the rings so far

    def other_bank(than: str, k: int) -> list[int]:
        """k people each in a bank other than ``than`` and than the one before: fresh ones, or
        (``reuse_share``) a hub an earlier ring used."""
        out: list[int] = []
        prev = than
        while len(out) < k:
            if reuse_share > 0 and hubs and rng.random() < reuse_share:
                cand = int(hubs[int(rng.integers(0, len(hubs)))])
                if cand in out:
                    continue
            else:
                cand = draw(1)[0]
            if all_bank[cand] != prev:
                out.append(cand)
                prev = all_bank[cand]
        return out

    for r in range(fraud_rings):
        kind = KINDS[r % len(KINDS)]
        rid = f"R{r + 1:03d}"
        t0 = day0 + int(rng.integers(0, max(1, days - 4))) * 86400 + 9 * 3600
        mules = draw(int(rng.integers(1, 4)))
        victims: list[int] = []
        for m in mules:
            if rented_share > 0 and rng.random() < rented_share:
                continue  # a rented account keeps its age and its owner's everyday flows
            opened_days[m] = int(rng.integers(5, 90))
        # the layering structure after the mules
        anchor = str(all_bank[mules[0]])
        if kind == "chain":
            layer = other_bank(anchor, int(rng.integers(3, 6)))
            collector = layer[-1]
        elif kind == "scatter_gather":
            layer = other_bank(anchor, int(rng.integers(3, 7)))
            collector = other_bank(anchor, 1)[0]
        elif kind == "cycle":
            layer = other_bank(anchor, int(rng.integers(3, 5)))
            collector = mules[0]
        else:
            layer = []
            collector = other_bank(anchor, 1)[0]
        pat = PlantedPattern(rid, kind, [], [str(ids[m]) for m in mules], [], [])
        tag = f"{rid}:{kind}"

        def add(src: int, dst: int, ts: int, amt: float, ch: str, tag: str = tag) -> int:
            ring_rows.append((src, dst, ts, round(amt, 0), ch, tag))
            return len(ring_rows) - 1

        def hop(ts: int, lo: int = 600, hi: int = 3 * 3600) -> int:
            return ts + int(rng.integers(lo, hi))

        def cross(a: int, b: int) -> str:
            return "跨行" if all_bank[a] != all_bank[b] else "網銀"

        def cash_out(acct: int, ts: int, amt: float, path: list[int]) -> None:
            left = amt
            t = hop(ts, 1800, 4 * 3600)
            while left > 1:
                piece = min(ATM_LIMIT, left)
                path.append(add(acct, cash_index[all_bank[acct]], t, piece, "ATM"))
                left -= piece
                t += int(rng.integers(60, 900))

        for m in mules:
            vs = draw(int(rng.integers(3, 8)))
            victims += vs
            for v in vs:
                ts = t0 + int(rng.integers(0, 2 * 86400))
                amt = float(rng.integers(30, 500)) * 1000
                path = [add(v, m, ts, amt, cross(v, m))]
                amt *= rng.uniform(0.97, 0.995)
                ts = hop(ts)
                if kind == "chain":
                    prev = m
                    for nxt in layer:
                        path.append(add(prev, nxt, ts, amt, cross(prev, nxt)))
                        amt *= rng.uniform(0.98, 0.998)
                        ts, prev = hop(ts), nxt
                    cash_out(collector, ts, amt, path)
                elif kind == "scatter_gather":
                    parts = rng.dirichlet(np.ones(len(layer))) * amt
                    last = ts
                    for nxt, part in zip(layer, parts, strict=True):
                        t1 = hop(ts, 60, 1800)
                        path.append(add(m, nxt, t1, part, cross(m, nxt)))
                        t2 = hop(t1)
                        path.append(add(nxt, collector, t2, part * 0.99, cross(nxt, collector)))
                        last = max(last, t2)
                    cash_out(collector, last, amt * 0.99, path)
                elif kind == "cycle":
                    prev = m
                    for nxt in [*layer, m]:
                        path.append(add(prev, nxt, ts, amt, cross(prev, nxt)))
                        amt *= rng.uniform(0.98, 0.998)
                        ts, prev = hop(ts), nxt
                    cash_out(m, ts, amt, path)
                else:
                    path.append(add(m, collector, ts, amt, cross(m, collector)))
                    cash_out(collector, hop(ts), amt * 0.99, path)
                pat.paths.append(path)
        pat.victims = [str(ids[v]) for v in victims]
        pat.layer = [str(ids[x]) for x in layer if x != collector]
        pat.cashout = [str(ids[collector])]
        for v in victims:
            labels[v] = (False, f"{tag}/victim", "normal")
        for m in mules:
            labels[m] = (True, f"{tag}/mule", "警示" if rng.random() < 0.5 else "normal")
        for x in layer:
            labels.setdefault(x, (True, f"{tag}/layer", "normal"))
        if collector not in mules:
            labels.setdefault(collector, (True, f"{tag}/cashout", "normal"))
        hubs.extend(x for x in [*layer, collector] if x not in mules and x not in hubs)
        patterns.append(pat)

    # ---------------------------------------------------------------- everyday flows
    n_left = max(0, n_transfers - len(ring_rows))
    months = _month_starts(start, days)
    parts_src, parts_dst, parts_ts, parts_amt, parts_ch = [], [], [], [], []

    def day_times(k: int, dow_w: np.ndarray, hour_w: np.ndarray) -> np.ndarray:
        dows = (np.arange(days) + start.weekday()) % 7
        pd = dow_w[dows]
        d = rng.choice(days, size=k, p=pd / pd.sum())
        h = rng.choice(24, size=k, p=hour_w / hour_w.sum())
        return day0 + d * 86400 + h * 3600 + rng.integers(0, 3600, size=k)

    def put(src: np.ndarray, dst: np.ndarray, ts: np.ndarray, amt: np.ndarray, ch: Any) -> None:
        keep = (ts < day0 + days * 86400) & (ts >= day0)
        parts_src.append(src[keep])
        parts_dst.append(dst[keep])
        parts_ts.append(ts[keep])
        parts_amt.append(amt[keep])
        parts_ch.append(
            np.asarray(ch, dtype=object)[keep]
            if np.ndim(ch)
            else np.full(int(keep.sum()), ch, dtype=object)
        )

    def monthly(
        k_total: int,
        payers: np.ndarray,
        payees: np.ndarray,
        days_of_month: np.ndarray,
        mean: float,
        sigma: float,
        hour: int,
        spread: int,
        ch: str,
    ) -> None:
        per = max(1, min(len(payers), k_total // max(1, len(months))))
        who = payers[:per]
        to = payees[rng.integers(0, len(payees), size=per)]
        base_amt = np.round(rng.lognormal(np.log(mean), sigma, size=per), -2)
        for m0 in months:
            dom = days_of_month[:per]
            ts = m0 + (dom - 1) * 86400 + hour * 3600 + rng.integers(0, spread, size=per)
            put(who, to, ts, base_amt * rng.uniform(0.98, 1.02, size=per), ch)

    shares = {"salary": 0.05, "rent": 0.03, "bill": 0.06, "atm": 0.10, "merchant": 0.52}
    # salaries: employer e pays employee on its payday
    emp_payday = np.array([5, 10, 25])[rng.integers(0, 3, size=n_emp)]
    employees = people[
        : max(1, min(len(people), int(n_left * shares["salary"]) // max(1, len(months))))
    ]
    employer_of = emp[rng.integers(0, n_emp, size=len(employees))]
    sal = np.round(rng.lognormal(np.log(45_000), 0.35, size=len(employees)), -2)
    for m0 in months:
        ts = m0 + (emp_payday[employer_of] - 1) * 86400 + 9 * 3600
        ts = ts + rng.integers(0, 3600, size=len(employees))
        put(employer_of, employees, ts, sal, "網銀")
    # rent and bills
    tenants = rng.permutation(people)
    monthly(
        int(n_left * shares["rent"]),
        tenants,
        land,
        rng.integers(1, 6, size=len(people)),
        16_000,
        0.3,
        10,
        10 * 3600,
        "網銀",
    )
    payers = rng.permutation(people)
    monthly(
        int(n_left * shares["bill"]),
        payers,
        bill,
        rng.integers(10, 28, size=len(people)),
        1_500,
        0.6,
        8,
        12 * 3600,
        "網銀",
    )
    # merchants
    k = int(n_left * shares["merchant"])
    pop = 1.0 / np.arange(1, n_mer + 1) ** 0.8
    src = people[rng.integers(0, len(people), size=k)]
    dst = mer[rng.choice(n_mer, size=k, p=pop / pop.sum())]
    amt = np.clip(np.round(rng.lognormal(np.log(450), 0.8, size=k)), 80, 5000)
    ch = np.where(rng.random(k) < 0.7, "行動", "網銀").astype(object)
    put(src, dst, day_times(k, _DOW_SHOP, _HOUR_SHOP), amt, ch)
    # ATM
    k = int(n_left * shares["atm"])
    src = people[rng.integers(0, len(people), size=k)]
    dst = np.array([cash_index[c] for c in codes])[bank_i[src]]
    amt = rng.choice(
        [1000, 2000, 3000, 5000, 10000, 20000], size=k, p=[0.15, 0.25, 0.2, 0.2, 0.15, 0.05]
    ).astype(float)
    put(src, dst, day_times(k, _DOW_SHOP, _HOUR_SHOP), amt, "ATM")
    # P2P fills the rest
    k = max(0, n_left - sum(len(p) for p in parts_src))
    src = people[rng.integers(0, len(people), size=k)]
    dst = people[rng.integers(0, len(people), size=k)]
    same = src == dst
    dst[same] = people[(np.searchsorted(people, dst[same]) + 1) % len(people)]
    amt = np.round(rng.lognormal(np.log(3000), 1.0, size=k), -2) + 100
    cross_bank = all_bank[src] != all_bank[dst]
    ch = np.where(cross_bank, "跨行", np.where(rng.random(k) < 0.5, "行動", "網銀")).astype(object)
    ch[rng.random(k) < 0.03] = "臨櫃"
    put(src, dst, day_times(k, _DOW_OFFICE, _HOUR_OFFICE), amt, ch)

    # ---------------------------------------------------------------- assemble
    n_ring = len(ring_rows)
    if n_ring:
        r_src, r_dst, r_ts, r_amt, r_ch, r_pat = (
            np.array(c, dtype=object) for c in zip(*ring_rows, strict=True)
        )
    else:
        r_src = r_dst = r_ts = r_amt = r_ch = r_pat = np.array([], dtype=object)
    src = np.concatenate([r_src.astype(np.int64), *parts_src])
    dst = np.concatenate([r_dst.astype(np.int64), *parts_dst])
    ts = np.concatenate([r_ts.astype(np.int64), *parts_ts]) - TAIPEI_OFFSET
    amt = np.concatenate([r_amt.astype(np.float64), *parts_amt])
    ch = np.concatenate([r_ch, *parts_ch])
    pat = np.concatenate([r_pat, np.full(len(src) - n_ring, None, dtype=object)])
    order = np.lexsort((np.arange(len(ts)), ts))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    src, dst, ts, amt, ch, pat = (
        src[order],
        dst[order],
        ts[order],
        amt[order],
        ch[order],
        pat[order],
    )
    tids = np.array([f"T{i:010d}" for i in range(len(ts))], dtype=object)
    for p in patterns:
        p.paths = [[int(rank[i]) for i in path] for path in p.paths]
    # a row into a bank's cash account is an ATM withdrawal: cash leaving the banking system
    kind = np.where(dst >= n_accounts, "cash_out", "transfer").astype(object)
    transfers = TransferArrays(
        id=tids,
        kind=kind,
        ts=ts,
        from_account=all_ids[src],
        to_account=all_ids[dst],
        amount=amt,
        channel=ch,
        from_bank=all_bank[src],
        to_bank=all_bank[dst],
        pattern=pat,
    )

    holder = np.array(
        ["employer"] * n_emp
        + ["merchant"] * n_mer
        + ["landlord"] * n_land
        + ["biller"] * n_bill
        + ["person"] * len(people),
        dtype=object,
    )
    accounts = []
    for i in range(n_accounts):
        # Synthetic ground truth is complete: an account outside every ring is known clean.
        fraud, pattern, status = labels.get(i, (False, None, "normal"))
        accounts.append(
            {
                "id": ids[i],
                "bank_code": acct_bank[i],
                "holder_ref": f"{holder[i]}:{i}",
                "opened": start - timedelta(days=int(opened_days[i])),
                "status": status,
                "is_fraud": fraud,
                "pattern": pattern,
            }
        )
    for c in codes:
        accounts.append(
            {
                "id": cash[c],
                "bank_code": c,
                "holder_ref": "cash",
                "opened": None,
                "status": "normal",
                "is_fraud": None,
                "pattern": None,
            }
        )
    banks = [{"code": c, "name": BANKS[c][0]} for c in codes]
    return GeneratedLedger(banks, accounts, transfers, patterns, seed)


def _month_starts(start: date, days: int) -> list[int]:
    """Local-midnight epochs of the first day of each month that begins within the period
    (and of the start's month itself)."""
    out, y, m = [], start.year, start.month
    end = start + timedelta(days=days)
    while date(y, m, 1) < end:
        out.append(_local_epoch(date(y, m, 1)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
