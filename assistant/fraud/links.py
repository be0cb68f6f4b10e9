"""Which transfers are laundering hops: features of one new link (a customer-to-customer
transfer between two accounts with no standing relationship, ``rings.RingFinder``) for a link
model, a calibrated classifier (``scoring.MuleScorer`` over these columns) fitted where the
ledger marks laundering transfers (``pattern``).

Why a link model and not only the accounts' mule scores: two mules also trade with each other
as everyday customers do, and a laundering hub takes part in several patterns. On AMLGentex
runs, half the transfers between two mules are not laundering; weighing a link by its two
accounts' scores lets the ring walk cross from one pattern into the next through them. The
link's own context tells them apart better: is the sender fanning out to other suspects that
week, does the receiver pass the money on within days, is the pair seen once. Fitted on
AMLGentex seed 1, the link AUC on seeds 2 and 3 is 0.997 and 0.998 (the geometric mean of the
two mule scores: 0.985 and 0.989), and on a 2,000-account run with 16 % mules 0.907 (0.806).

Every column is read as a percentile among the ledger's new links, so a model fitted on one
generator's amounts and volumes reads another's (no raw amounts, no time of day: generated
ledgers place their laundering rows at artificial hours).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from assistant.fraud.ledger import LedgerArrays

DAY = 86_400
WEEK = 7 * DAY
PASS_ON = 3 * DAY  # money passed on (or brought in) within this long of the link

LINK_NAMES = (
    "mule_from",
    "mule_to",
    "amount_rank",
    "pair_transfers",
    "from_new_out_week",
    "from_new_in_week",
    "to_new_in_week",
    "to_new_out_week",
    "from_new_out",
    "to_new_in",
    "from_out_all",
    "to_in_all",
    "to_out_after",
    "from_in_before",
    "from_suspects_week",
    "to_suspects_week",
    "from_suspect_share_week",
    "to_suspect_share_week",
)


class _Events:
    """Per-account event times (sorted), for counting an account's events in a time window
    and summing a value over them, all links at once."""

    def __init__(self, who: np.ndarray, ts: np.ndarray, value: np.ndarray | None = None) -> None:
        self.t0 = int(ts.min()) if len(ts) else 0
        self.key = self._key(who, ts)
        order = np.argsort(self.key, kind="stable")
        self.key = self.key[order]
        v = np.ones(len(who)) if value is None else np.asarray(value, dtype=float)[order]
        self.cum = np.concatenate([[0.0], np.cumsum(v)])

    def _key(self, who: np.ndarray, ts: np.ndarray) -> np.ndarray:
        # account in the high bits, seconds since the first event in the low 40 (34,000 years)
        return who.astype(np.int64) * (1 << 40) + (ts.astype(np.int64) - self.t0)

    def total(self, at: _Ends, lo: int, hi: int) -> np.ndarray:
        """Per link, the sum of the values of its end's events within [ts + lo, ts + hi]."""
        a = np.searchsorted(self.key, self._key(at.who, np.maximum(at.ts + lo, self.t0)), "left")
        b = np.searchsorted(
            self.key, self._key(at.who, np.maximum(at.ts + hi, self.t0 - 1)), "right"
        )
        out = np.empty(len(at.ts))
        out[at.order] = self.cum[np.maximum(b, a)] - self.cum[a]
        return out


class _Ends:
    """One end of every link (its account and time), kept in key order: sorted needles walk
    the event keys in step, about four times as fast as random ones on a million events."""

    def __init__(self, who: np.ndarray, ts: np.ndarray) -> None:
        self.order = np.lexsort((ts, who))
        self.who = who[self.order]
        self.ts = np.asarray(ts, dtype=np.int64)[self.order]


def link_features(
    arrays: LedgerArrays,
    rows: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    ts: np.ndarray,
    mule: np.ndarray,
    *,
    raw: bool = False,
) -> np.ndarray:
    """One row of ``LINK_NAMES`` per link (``rows``: its transfer's row in ``arrays``;
    ``src``/``dst``: sender and receiver positions; ``mule``: a mule score per account): each
    column as a percentile among this ledger's new links, the link model's input (a count of 5
    new links a week is busy in one ledger and ordinary in a denser one); ``raw``: the counts,
    sums and shares themselves."""
    n = len(arrays.account_ids)
    mule = np.asarray(mule, dtype=float)
    amounts = np.sort(arrays.amount)
    amount_rank = np.searchsorted(amounts, arrays.amount[rows]) / max(1, len(amounts))
    pair = np.minimum(src, dst).astype(np.int64) * n + np.maximum(src, dst)
    _, inv, count = np.unique(pair, return_inverse=True, return_counts=True)
    far = (1 << 39) - 1  # every event of the account: ±17,000 years
    sent, got = _Events(src, ts), _Events(dst, ts)
    at_src, at_dst = _Ends(src, ts), _Ends(dst, ts)
    out_all, in_all = _Events(arrays.src, arrays.ts), _Events(arrays.dst, arrays.ts)
    # counterparties' mule scores over each account's new links, either direction
    ends = np.concatenate([src, dst])
    both_ts = np.concatenate([ts, ts])
    suspects = _Events(ends, both_ts, mule[np.concatenate([dst, src])])
    links = _Events(ends, both_ts)
    cols = {
        "mule_from": mule[src],
        "mule_to": mule[dst],
        "amount_rank": amount_rank,
        "pair_transfers": count[inv].astype(float),
        "from_new_out_week": sent.total(at_src, -WEEK, WEEK),
        "from_new_in_week": got.total(at_src, -WEEK, WEEK),
        "to_new_in_week": got.total(at_dst, -WEEK, WEEK),
        "to_new_out_week": sent.total(at_dst, -WEEK, WEEK),
        "from_new_out": sent.total(at_src, -far, far),
        "to_new_in": got.total(at_dst, -far, far),
        "from_out_all": out_all.total(at_src, -far, far),
        "to_in_all": in_all.total(at_dst, -far, far),
        "to_out_after": out_all.total(at_dst, 0, PASS_ON),
        "from_in_before": in_all.total(at_src, -PASS_ON, 0),
    }
    # this link's own counterparty is left out of its ends' sums
    from_s = suspects.total(at_src, -WEEK, WEEK) - mule[dst]
    to_s = suspects.total(at_dst, -WEEK, WEEK) - mule[src]
    from_n = np.maximum(links.total(at_src, -WEEK, WEEK) - 1, 1)
    to_n = np.maximum(links.total(at_dst, -WEEK, WEEK) - 1, 1)
    cols |= {
        "from_suspects_week": from_s,
        "to_suspects_week": to_s,
        "from_suspect_share_week": from_s / from_n,
        "to_suspect_share_week": to_s / to_n,
    }
    X = np.column_stack([cols[name] for name in LINK_NAMES]).astype(float)
    if raw:
        return X
    return np.column_stack([rankdata(X[:, j]) / max(1, len(X)) for j in range(X.shape[1])])


def accomplice_rows(
    arrays: LedgerArrays, laundering_ids: set[str], fraud: np.ndarray
) -> np.ndarray:
    """Per transfer row of ``arrays``: True for a marked laundering transfer (its id among
    ``laundering_ids``) between two accounts labelled fraud (``fraud``, per account). The link
    model learns the accomplices' links: a scam victim's payment into the ring is marked as part
    of the pattern, but the victim is no accomplice, and a ring from a mule should not list the
    people it robbed as its members."""
    marked = np.fromiter(
        (t in laundering_ids for t in arrays.transfer_ids.tolist()),
        dtype=bool,
        count=len(arrays.transfer_ids),
    )
    fraud = np.asarray(fraud, dtype=bool)
    return marked & fraud[arrays.src] & fraud[arrays.dst]
