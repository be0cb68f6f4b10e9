"""The mule score on arrival: the batch scorer's kind of features kept up to date transfer by
transfer, read against the accounts the monitor knows, and scored by a small model each time an
account moves money.

- ``Tally``: per account, the running counts and sums that settle ``features.STREAM_FEATURES``
  exactly as ``features.account_features`` computes them over the same transfers (the tests hold
  the two to each other). One exception, for a feed that delivers late: an active day is counted
  when a transfer falls on a later Taiwan day than the account's latest, so a transfer that
  arrives after newer ones, on a day not yet seen, is not counted as a day of its own.
- ``Ranks``: the scorer reads each feature as the account's percentile among the ledger's
  accounts (``features.within_ledger_ranks``), which is what carries a model from one ledger to
  another. On arrival the percentile is taken against a snapshot of every known account's
  features (an even sample of at most 50,000 of them), refreshed once a day of transfer time or
  when the transfers seen have grown by 5%, so a transfer costs a binary search per feature,
  not a sort of the ledger.
- The model is ``fraud.stream_model.StreamModel``, which the fraud desk fits with the batch
  scorer (``FraudService.train``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.fraud.features import FEATURE_TEXT, STREAM_FEATURES
from assistant.fraud.stream_model import StreamModel

TAIPEI = 8 * 3600
DAY = 86400


@dataclass(slots=True)
class Tally:
    """One account's running totals (customer-to-customer transfers unless named otherwise)."""

    fan_in: int = 0
    fan_out: int = 0
    in_degree: int = 0
    out_degree: int = 0
    total_in: float = 0.0
    total_out: float = 0.0
    active_days: int = 0
    last_day: int = -1
    night: int = 0
    round_1000: int = 0
    round_10000: int = 0
    min_amount: float = math.inf
    cash_in_count: int = 0
    cash_out_count: int = 0
    cash_in_total: float = 0.0
    cash_out_total: float = 0.0
    outside_in_total: float = 0.0
    outside_out_total: float = 0.0
    rows: int = 0  # every row of the account, any kind (the structuring share's denominator)
    near: int = 0  # rows just under the reporting threshold
    above: int = 0  # the account's latest scores in a row at or above its threshold
    named_ts: int = -1  # when a mule_score reason last named the account (-1: never)

    def to_dict(self) -> dict[str, float | None]:
        """Plain data for a snapshot, by name (no transfer yet: no smallest amount, ``None``)."""
        return {
            f: None if f == "min_amount" and math.isinf(self.min_amount) else getattr(self, f)
            for f in self.__slots__
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Tally:
        """From a snapshot: by name, so a snapshot of an older product (fewer totals) keeps
        what it has and starts the rest at zero; a name this version does not know is left."""
        t = cls()
        for name in cls.__slots__:
            v = values.get(name)
            if v is None:
                continue
            setattr(t, name, int(v) if isinstance(getattr(t, name), int) else float(v))
        return t

    def event(self, ts: int, amount: float) -> None:
        """A customer-to-customer transfer of this account, either way."""
        local = ts + TAIPEI
        day = local // DAY
        if day > self.last_day:
            self.active_days += 1
            self.last_day = day
        hour = (local % DAY) // 3600
        if hour >= 22 or hour < 6:
            self.night += 1
        cents = round(amount * 100)
        if cents > 0 and cents % 100_000 == 0:
            self.round_1000 += 1
            if cents % 1_000_000 == 0:
                self.round_10000 += 1
        if amount < self.min_amount:
            self.min_amount = amount

    def features(self, with_near: bool) -> list[float]:
        """``STREAM_FEATURES`` in order, NaN where the batch computation has NaN."""
        nan = math.nan
        events = self.fan_in + self.fan_out

        def div(a: float, b: float) -> float:
            return a / b if b > 0 else nan

        received = self.total_in + self.cash_in_total + self.outside_in_total
        left = self.total_out + self.cash_out_total + self.outside_out_total
        return [
            self.fan_in,
            self.fan_out,
            self.in_degree,
            self.out_degree,
            self.total_in,
            self.total_out,
            div(self.total_out, self.total_in),
            div(events, self.active_days),
            self.active_days,
            div(self.night, events),
            div(self.round_1000, events),
            div(self.round_10000, events),
            self.min_amount if events else nan,
            1.0 - div(self.in_degree + self.out_degree, events),
            self.cash_in_count,
            self.cash_out_count,
            self.cash_in_total,
            self.cash_out_total,
            self.outside_in_total,
            self.outside_out_total,
            div(self.cash_out_total, received),
            div(left, received),
            self.near if with_near else nan,
            div(self.near, self.rows) if with_near else nan,
        ]


def count(
    kind: str,
    ts: int,
    amount: float,
    payer: Tally | None,
    payee: Tally | None,
    *,
    new_out: bool,
    new_in: bool,
    near: bool,
) -> None:
    """Add one row to its parties' tallies (``None``: a bank's CASH account or OUTSIDE, which
    keep none). ``new_out`` / ``new_in``: the first customer-to-customer transfer from this payer
    to this payee, seen from either side."""
    for t in (payer, payee):
        if t is not None:
            t.rows += 1
            t.near += near
    if kind == "cash_in":
        if payee is not None:
            payee.cash_in_count += 1
            payee.cash_in_total += amount
        return
    if kind == "cash_out":
        if payer is not None:
            payer.cash_out_count += 1
            payer.cash_out_total += amount
        return
    if payer is None:
        if payee is not None:
            payee.outside_in_total += amount
        return
    if payee is None:
        payer.outside_out_total += amount
        return
    payer.fan_out += 1
    payer.total_out += amount
    payer.out_degree += new_out
    payer.event(ts, amount)
    payee.fan_in += 1
    payee.total_in += amount
    payee.in_degree += new_in
    payee.event(ts, amount)


class Ranks:
    """Each feature's sorted values over the known accounts, and an account's percentile in
    them (the mean rank of ties over the accounts where it is defined, in (0, 1]; NaN stays
    NaN), as ``features.within_ledger_ranks`` reads a whole ledger."""

    def __init__(self, width: int) -> None:
        self.cols: list[list[float]] = [[] for _ in range(width)]
        self.accounts = 0

    def refresh(self, rows: Iterable[Sequence[float]]) -> None:
        cols: list[list[float]] = [[] for _ in self.cols]
        n = 0
        for row in rows:
            n += 1
            for j, v in enumerate(row):
                if v == v:  # not NaN
                    cols[j].append(v)
        for c in cols:
            c.sort()
        self.cols, self.accounts = cols, n

    def of(self, row: Sequence[float]) -> list[float]:
        out = []
        for v, col in zip(row, self.cols, strict=True):
            n = len(col)
            if v != v or not n:
                out.append(math.nan)
                continue
            lo, hi = bisect_left(col, v), bisect_right(col, v)
            out.append(min(1.0, (lo + hi + 1) / (2 * n)))
        return out


class OnArrival:
    """What the monitor scores accounts with: the model and the percentile snapshot, refreshed
    once a day of transfer time or when the transfers seen have grown by ``refresh_growth``."""

    def __init__(
        self,
        model: StreamModel,
        *,
        refresh_s: int = DAY,
        refresh_growth: float = 0.05,
        max_rows: int = 50_000,
    ) -> None:
        self.model = model
        self.max_rows = max(1, max_rows)
        self.refresh_s = refresh_s
        self.refresh_growth = refresh_growth
        self.ranks = Ranks(len(STREAM_FEATURES))
        self.refreshed_ts: int | None = None
        self.refreshed_seen = 0
        self.refreshes = 0
        self.floor = 0.0  # see ``_floor``

    @property
    def with_near(self) -> bool:
        return self.model.cash_rules is not None

    def near(self, amount: float) -> bool:
        r = self.model.cash_rules
        return r is not None and r.report_threshold * (1 - r.structuring_band) <= amount < (
            r.report_threshold
        )

    def model_for(self, account: str) -> StreamModel:
        """The model that scores ``account`` (one for all; an evaluation scores each account
        by a model fitted without it)."""
        return self.model

    def due(self, ts: int, seen: int) -> bool:
        if self.refreshed_ts is None:
            return True
        return ts - self.refreshed_ts >= self.refresh_s or seen >= (1 + self.refresh_growth) * max(
            1, self.refreshed_seen
        )

    def refresh(self, tallies: Iterable[Tally], ts: int, seen: int) -> None:
        near = self.with_near
        active = [t for t in tallies if t.rows]
        # Percentiles from an even sample of at most ``max_rows`` accounts (every k-th): within
        # a percentage point of the whole population's, and a bank of millions of accounts
        # does not stop its stream for a sort of millions once a day.
        step = max(1, math.ceil(len(active) / self.max_rows))
        rows = [t.features(near) for t in active[::step]]
        self.ranks.refresh(rows)
        self.refreshed_ts, self.refreshed_seen = ts, seen
        self.refreshes += 1
        self.floor = self._floor(rows)

    def _floor(self, rows: list[list[float]]) -> float:
        """The score of the account at the model's mule share among the known ones, now: an
        account is scored on each of its transfers, and with a few days of history ordinary
        ones cross the model's threshold too; alerting only above this as well keeps the
        accounts named to the share of mules the model was fitted on."""
        import numpy as np

        from assistant.fraud.features import within_ledger_ranks

        share = self.model.mule_share
        if share is None or not rows:
            return 0.0
        scores = np.sort(self.model.score_many(within_ledger_ranks(np.array(rows))))[::-1]
        k = max(1, math.ceil(share * len(scores)))
        return float(scores[min(k, len(scores)) - 1])

    def threshold(self, account: str, override: float | None = None) -> float:
        """The score at which ``account`` is named: the rule's own threshold if it sets one,
        else the model's, and at least the known accounts' score at the mule share."""
        base = override if override is not None else self.model_for(account).alert_at
        return max(base, self.floor)

    def score(self, account: str, tally: Tally) -> tuple[float, list[float]]:
        ranks = self.ranks.of(tally.features(self.with_near))
        return self.model_for(account).score(ranks), ranks


def reason_words(model: StreamModel, ranks: Sequence[float]) -> tuple[str, str]:
    """The features behind a score, in words (Chinese, English)."""
    top = model.reasons(ranks)
    if not top:
        return "", ""
    zh = "、".join(FEATURE_TEXT[n][0] for n, _ in top)
    en = "; ".join(FEATURE_TEXT[n][1] for n, _ in top)
    return zh, en
