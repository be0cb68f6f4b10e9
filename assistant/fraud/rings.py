"""Rings from one account (「這個帳戶的同夥有哪些？」): from one flagged account, the other
accounts of the laundering pattern around it, ranked, with the transfers that tie them.

How (on ``LedgerArrays``, no labels):

1. **New links only.** A ring moves money between accounts that have no standing relationship:
   the laundering transfers between two of them come in one burst (one transfer, or a few
   tranches within hours). A pair that trades again over weeks (salary, rent, a supplier) is an
   everyday flow. An edge here is a customer-to-customer transfer whose pair (either direction)
   has all its transfers within ``burst_days``. Cash deposits and withdrawals and the reserved
   CASH / OUTSIDE endpoints are left out: they join everyone to everyone.
2. **Time-respecting.** From an account reached at hop k, only its links within ``window_days``
   of the links that reached it are followed (a pattern runs over days or weeks, not the whole
   ledger; the seed's own links are all followed).
3. **Bounded neighbourhood.** Breadth-first over those links, ``hops`` in both directions.
4. **Propagation**, one of two ways. With a link model (``links``: fitted where the ledger marks
   laundering transfers), each new link carries its probability of being a laundering hop,
   and an account's ring score is the most probable time-respecting path to it (the product of
   its links' probabilities, each link within ``window_days`` of the one before it) over the
   strongest one's. With a step model (``steps``, fitted where the ledger names each laundering
   transfer's pattern), each link after the first weighs the probability that it carries on the
   pattern of the link before it at that account (``links.STEP_NAMES``: how soon after, which
   way, what amount, against the account's other links then): a hub that launders for two
   patterns no longer leads the walk from one into the other. Otherwise, personalised
   PageRank from the seed over the neighbourhood (restart ``alpha``), each link weighted by
   the geometric mean of its two accounts' mule scores when a scorer is given (label-free
   otherwise: every link weighs 1). An account's ring score is its PageRank over the largest
   one among the others, so the strongest tie reads 1.0 and the threshold is a share of it.
5. **Judged**, with a member model (``members``, fitted where the ledger names the patterns):
   the step walk goes three hops and each account it reached is judged on how it sits among
   the ring's likelier accounts (``MEMBER_NAMES``: its path score and rank, its mule score,
   how many of the core accounts it trades with and over how likely links, how close in time
   to the seed's links, shared counterparties); its ring score is the model's probability that
   it belongs to the seed's ring. Two hops reach only 80-82 % of a ring's accounts on AMLGentex
   runs; the third reaches more, and the model keeps out the far ones it does not believe.

Each member comes with its reasons: hops from the seed, counterparties shared with the seed, its
mule score, and when its ring links ran (the temporal co-activity with the seed), and the ids of
the transfers that tie it to the seed or to another member.

The default thresholds and weights are chosen on two AMLGentex runs of different shape and
applied unchanged to others (``evals.rings``: never tuned on a run it is measured on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.stats import rankdata

from assistant.errors import AssistantError
from assistant.fraud.ledger import LedgerArrays, normalize_account
from assistant.fraud.links import LINK_NAMES, STEP_NAMES, link_features, step_features
from assistant.fraud.scoring import MuleScorer

DAY = 86_400
# Chosen by ``python -m evals.rings`` fitted on AMLGentex seeds 1 (10,000 accounts) and 10 (2,000)
# together; the other seeds are measured with these unchanged.
THRESHOLD = 0.14
HOPS = 2
WINDOW_DAYS = 7
# The path walk over the link model's probabilities has its own threshold and window, chosen by
# ``python -m evals.rings`` fitted on two AMLGentex runs of different shape together (seed 1,
# 10,000 accounts, and seed 10, 2,000 accounts with 16 % mules): fitted on seed 1 alone the
# walk was tuned to one shape and on the small dense runs found half as much (README).
LINK_THRESHOLD = 0.24
STEP_THRESHOLD = 0.26  # the same walk with the step model
LINK_WINDOW_DAYS = 14
BURST_DAYS = 2.0  # a pair's transfers all within this many days: a new link, not a standing one
ALPHA = 0.3
SHARP = 1.0  # links weigh (mule_u · mule_v) ** (SHARP / 2): higher keeps the walk on suspects
OWN = 0.0  # exponent on a member's own mule score in its ring score (0: the tie alone)
ITERATIONS = 30
MAX_TRANSFERS = 200  # tying transfers returned per ring
LINK_FILE = "ring_links.joblib"  # the link model, beside the mule scorer's file
STEP_FILE = "ring_steps.joblib"  # the step model, beside it
MEMBER_FILE = "ring_members.joblib"  # the member model, beside them
# With a member model the walk goes a hop further: two hops reach only 80-82 % of a ring's
# accounts on AMLGentex runs, so no threshold over two hops can find 80 % of a ring; three reach
# more, and the member model keeps the far candidates it does not believe out.
MEMBER_HOPS = 3
# The path walk goes on from at most this many accounts of each hop, those with the most
# probable paths. On AMLGentex runs (at most a few hundred a hop) 50 and 200 moved the member
# walk's recall by 0.01 or less.
FRONTIER = 100
PER_PATTERN = 3  # accounts of each pattern the member model is fitted from (and the eval seeds)
STEP_FOLDS = 3  # step models fitted without a third of the patterns each, for those rows
# Chosen by ``python -m evals.rings`` on the same two runs: the best recall at which each
# keeps a mean precision of 0.55 or more (half, with a margin for ledgers it never saw).
MEMBER_THRESHOLD = 0.14
CORE = 0.2  # candidates whose path score is at least this are the ring's core for the model

# One row per candidate the walk reached: what the member model weighs. The path score alone
# ranks a far account reached over one strong link above a near one tied to several members;
# these read how the candidate sits among the ring's likelier accounts. Percentiles and
# counts, no raw amounts or times, so one generator's model reads another's ledger.
MEMBER_NAMES = (
    "path_score",  # the walk's score, over the strongest path's
    "hops",
    "score_rank",  # log(1 + rank among the candidates by path score)
    "mule_pct",  # its mule score as a percentile among the ledger's accounts
    "core_ties",  # distinct core accounts (and the seed) it has new links with
    "core_link_pct",  # the sum over those of the strongest link's percentile
    "link_max_pct",  # its likeliest link in the neighbourhood, as a percentile
    "seed_gap_hours",  # log(1 + hours) between its links and the seed's nearest
    "degree",  # log(1 + its new links in the whole ledger)
    "shared",  # counterparties shared with the seed
    "candidates",  # log(1 + accounts the walk reached)
)


@dataclass
class RingMember:
    account: str
    # over the strongest tie's (1.0 the strongest): PageRank, or with a link model the
    # probability of the most probable path from the seed; with a member model its
    # probability of belonging to the ring
    score: float
    hops: int
    shared: int  # counterparties (over new links) shared with the seed
    mule: float | None
    first: int  # epoch seconds of its first and last ring link
    last: int
    transfers: list[str] = field(default_factory=list)

    def reasons(self) -> list[tuple[str, str]]:
        """(中文, English) reasons, most telling first."""
        out = [(f"距離 {self.hops} 跳", f"{self.hops} hop(s) from the account")]
        if self.shared:
            out.append((f"共同交易對手 {self.shared} 個", f"{self.shared} shared counterparties"))
        if self.mule is not None:
            out.append((f"人頭分數 {self.mule:.2f}", f"mule score {self.mule:.2f}"))
        days = max(0.0, (self.last - self.first) / DAY)
        out.append(
            (
                f"與本帳戶同期的新往來，集中在 {days:.0f} 天內",
                f"new links in step with the account's, within {days:.0f} days",
            )
        )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "score": round(self.score, 4),
            "hops": self.hops,
            "shared": self.shared,
            "mule": None if self.mule is None else round(self.mule, 4),
            "first": self.first,
            "last": self.last,
            "transfers": self.transfers,
            "reasons": [{"zh": zh, "en": en} for zh, en in self.reasons()],
        }


@dataclass
class RingResult:
    seed: str
    members: list[RingMember]  # score ≥ threshold, best first
    threshold: float
    considered: int  # accounts in the bounded neighbourhood
    transfers: list[str]  # ids of the new links among the seed and the members
    scored: bool  # True when mule scores weighted the links
    walk: str = "pagerank"  # or "paths": the link model's probabilities
    steps: bool = False  # True when the step model weighed each step after the first
    member_model: bool = False  # True when the member model scored the walk's candidates

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "walk": self.walk,
            "steps": self.steps,
            "member_model": self.member_model,
            "threshold": self.threshold,
            "considered": self.considered,
            "scored": self.scored,
            "members": [m.as_dict() for m in self.members],
            "transfers": self.transfers,
        }


def fit_links(
    arrays: LedgerArrays, mule: np.ndarray, laundering: np.ndarray, *, seed: int = 0
) -> MuleScorer:
    """The link model: a calibrated classifier over ``links.LINK_NAMES`` of every new link,
    fitted on ``laundering`` (per transfer row of ``arrays``: True for a laundering transfer).
    ``mule``: the accounts' scores as they will be read at use, i.e. out-of-fold on the
    ledger the labels come from (in-sample scores would teach it to trust them too much)."""
    finder = RingFinder(arrays, mule)
    y = np.asarray(laundering, dtype=bool)[finder.rows].astype(int)
    if y.sum() < 2 or y.sum() > len(y) - 2:
        raise AssistantError(
            "新往來中標記的洗錢交易不足，無法訓練連結模型 / too few laundering transfers among "
            "the new links to fit the link model"
        )
    X = link_features(arrays, finder.rows, finder.u, finder.v, finder.ts, finder.mule)
    return MuleScorer(seed=seed).fit(LINK_NAMES, X, y)


def step_rows(
    arrays: LedgerArrays,
    laundering: np.ndarray,
    pattern: np.ndarray,
    link: np.ndarray,
    *,
    window_days: float = LINK_WINDOW_DAYS,
) -> tuple[np.ndarray, np.ndarray]:
    """The step model's rows of one ledger: every step from a hub reached over a laundering
    link on to another of the hub's links within ``window_days`` (``links.STEP_NAMES`` per
    step), and 1 where that one is a laundering link of the same pattern. ``laundering`` and
    ``pattern`` (an integer per pattern, -1 none) are per transfer row of ``arrays``; ``link``:
    the link model's probability per new link (``RingFinder.rows`` order) as it reads links it
    did not see, i.e. its out-of-fold scores on this ledger."""
    finder = RingFinder(arrays)
    lab = np.asarray(laundering, dtype=bool)[finder.rows]
    code = np.where(lab, np.asarray(pattern, dtype=np.int64)[finder.rows], -1)
    link = np.asarray(link, dtype=float)
    if len(link) != len(finder.rows):
        raise AssistantError("連結機率數量不符 / one link probability per new link expected")
    marked = np.flatnonzero(lab)
    hub, first, nxt = finder.steps_at(
        np.concatenate([finder.u[marked], finder.v[marked]]),
        np.concatenate([marked, marked]),
        window_days * DAY,
    )
    y = ((code[nxt] == code[first]) & (code[nxt] >= 0)).astype(int)
    amount = arrays.amount[finder.rows]
    return step_features(finder.ts, finder.u, amount, link, hub, first, nxt), y


def fit_steps(
    arrays: LedgerArrays,
    laundering: np.ndarray,
    pattern: np.ndarray,
    link: np.ndarray,
    *,
    window_days: float = LINK_WINDOW_DAYS,
    seed: int = 0,
) -> MuleScorer:
    """The step model: a calibrated classifier over ``links.STEP_NAMES`` fitted on one
    ledger's ``step_rows`` (same arguments)."""
    X, y = step_rows(arrays, laundering, pattern, link, window_days=window_days)
    return fit_step_rows(X, y, seed=seed)


def _fit(names: Sequence[str], X: np.ndarray, y: np.ndarray, refusal: str, seed: int) -> MuleScorer:
    """A calibrated classifier over ``names``, or ``refusal`` where ``y`` has fewer than two
    of either class (the calibration folds need both)."""
    if y.sum() < 2 or y.sum() > len(y) - 2:
        raise AssistantError(refusal)
    return MuleScorer(seed=seed).fit(names, X, y)


def fit_step_rows(X: np.ndarray, y: np.ndarray, *, seed: int = 0) -> MuleScorer:
    """The step model from ``step_rows`` (of one ledger or several stacked)."""
    refusal = (
        "同一洗錢型態的連續交易不足，無法訓練步進模型 / too few steps within one laundering "
        "pattern to fit the step model"
    )
    return _fit(STEP_NAMES, X, y, refusal, seed)


def planted_seeds(
    rings: Mapping[str, np.ndarray], per_pattern: int = PER_PATTERN, rng_seed: int = 0
) -> list[tuple[str, int, set[int]]]:
    """Seeds to expand as an investigator would: per pattern (``rings``: name → its accounts'
    positions), up to ``per_pattern`` of its accounts chosen with a fixed random seed, each
    with its truth: every other account of every pattern it takes part in (one account often
    launders for several; the investigator wants all its accomplices). (pattern, seed, truth)
    per expansion."""
    of: dict[int, set[str]] = {}
    for key, members in rings.items():
        for p in np.asarray(members).tolist():
            of.setdefault(p, set()).add(key)
    rng = np.random.default_rng(rng_seed)
    out = []
    for key in sorted(rings):
        members = np.asarray(rings[key])
        if len(members) < 2:
            continue
        picks = rng.choice(members, size=min(per_pattern, len(members)), replace=False)
        for s in sorted(picks.tolist()):
            truth = set().union(*(set(np.asarray(rings[k]).tolist()) for k in of[s])) - {s}
            out.append((key, int(s), truth))
    return out


def pattern_rings(
    arrays: LedgerArrays, laundering: np.ndarray, pattern: np.ndarray
) -> dict[str, np.ndarray]:
    """Per pattern number (``pattern``, per transfer row; -1 none), the customer accounts on
    its ``laundering`` transfers: the ring a member of it belongs to."""
    rows = np.flatnonzero(np.asarray(laundering, dtype=bool) & (np.asarray(pattern) >= 0))
    out: dict[str, np.ndarray] = {}
    code = np.asarray(pattern)[rows]
    for k in np.unique(code).tolist():
        mine = rows[code == k]
        ends = np.unique(np.concatenate([arrays.src[mine], arrays.dst[mine]]))
        out[str(k)] = ends[~arrays.reserved[ends]]
    return out


def member_rows(
    finder: RingFinder,
    seeds: Sequence[tuple[str, int, set[int]]],
    *,
    steps_for: Callable[[str], Any] | None = None,
    hops: int = MEMBER_HOPS,
    window_days: float = LINK_WINDOW_DAYS,
) -> list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray]]:
    """The member model's rows: per seed (``planted_seeds``), the walk's candidates from it
    (``finder``'s link and step models; ``steps_for``: the step model for a seed's pattern, so
    a training ledger's seeds are walked by step models fitted without their pattern) with
    ``MEMBER_NAMES`` and 1 where the candidate is in the seed's truth. (pattern, seed,
    candidate positions, X, y) per seed, empty where the walk reached no one."""
    out = []
    for key, s, truth in seeds:
        if steps_for is not None:
            finder.steps = steps_for(key)
        scores, hop, links = finder._paths(s, hops, window_days * DAY)
        if scores is None:
            none = np.zeros(0, dtype=np.int64)
            out.append((key, s, none, np.zeros((0, len(MEMBER_NAMES))), none))
            continue
        near = np.flatnonzero(hop >= 0)
        near = near[near != s]
        X = finder.member_features(s, near, scores, hop, links)
        y = np.isin(near, np.fromiter(truth, dtype=np.int64, count=len(truth))).astype(int)
        out.append((key, s, near, X, y))
    return out


def fit_member_rows(X: np.ndarray, y: np.ndarray, *, seed: int = 0) -> MuleScorer:
    """The member model from ``member_rows`` (of one ledger or several, stacked)."""
    refusal = (
        "步進走訪找到的同夥不足，無法訓練成員模型 / too few accomplices among the walk's "
        "candidates to fit the member model"
    )
    return _fit(MEMBER_NAMES, X, y, refusal, seed)


def fit_members(
    arrays: LedgerArrays,
    mule: np.ndarray,
    laundering: np.ndarray,
    pattern: np.ndarray,
    link: np.ndarray,
    *,
    per_pattern: int = PER_PATTERN,
    seed: int = 0,
) -> MuleScorer:
    """The member model of one ledger: walks from up to ``per_pattern`` accounts of each
    pattern, over the link model's out-of-fold probabilities (``link``) and step models fitted
    without the seed's pattern (``STEP_FOLDS`` of them), so the candidates look as they will
    on patterns it never saw. Arguments as ``fit_steps``, and ``mule`` as ``fit_links``."""
    lab = np.asarray(laundering, dtype=bool)
    code = np.asarray(pattern, dtype=np.int64)
    folds = [
        fit_steps(arrays, lab & (code % STEP_FOLDS != k), code, link, seed=seed)
        for k in range(STEP_FOLDS)
    ]
    finder = RingFinder(arrays, mule)
    if len(link) != len(finder.rows):
        raise AssistantError("連結機率數量不符 / one link probability per new link expected")
    finder.link = np.asarray(link, dtype=float)
    seeds = planted_seeds(pattern_rings(arrays, lab, code), per_pattern, seed)
    got = member_rows(finder, seeds, steps_for=lambda key: folds[int(key) % STEP_FOLDS])
    X = np.vstack([np.zeros((0, len(MEMBER_NAMES))), *(g[3] for g in got)])
    y = np.concatenate([np.zeros(0, dtype=int), *(g[4] for g in got)])
    return fit_member_rows(X, y, seed=seed)


class RingFinder:
    """Built once per ledger (the new links and their times); ``expand`` per seed account.
    ``mule``: a mule score per account (``arrays.account_ids`` order) or None. ``links``: a
    link model (a classifier over ``links.LINK_NAMES``, which needs ``mule``) or None.
    ``steps``: a step model (over ``links.STEP_NAMES``, which needs ``links``) or None.
    ``members``: a member model (over ``MEMBER_NAMES``, which needs ``steps``) or None.
    ``frontier``: the path walk goes on from at most this many accounts of each hop."""

    def __init__(
        self,
        arrays: LedgerArrays,
        mule: np.ndarray | None = None,
        *,
        links: Any = None,
        steps: Any = None,
        members: Any = None,
        burst_days: float = BURST_DAYS,
        frontier: int | None = FRONTIER,
    ) -> None:
        self.arrays = arrays
        n = len(arrays.account_ids)
        self.n = n
        self.reserved = arrays.reserved
        self.mule = None if mule is None else np.asarray(mule, dtype=float)
        if self.mule is not None and len(self.mule) != n:
            raise AssistantError("人頭分數數量不符 / one mule score per account expected")
        cust = ~self.reserved
        keep = (arrays.kinds() == 0) & cust[arrays.src] & cust[arrays.dst]
        keep &= arrays.src != arrays.dst
        rows = np.flatnonzero(keep)
        a, b = arrays.src[rows], arrays.dst[rows]
        pair = np.minimum(a, b) * n + np.maximum(a, b)
        _, inv = np.unique(pair, return_inverse=True)
        t = arrays.ts[rows]
        first = np.full(inv.max() + 1 if len(inv) else 0, np.iinfo(np.int64).max)
        last = np.full(len(first), np.iinfo(np.int64).min)
        np.minimum.at(first, inv, t)
        np.maximum.at(last, inv, t)
        # a pair whose transfers all fall within a burst is a new link; one that recurs over
        # weeks (salary, rent, a supplier) is a standing relationship
        new = (last - first)[inv] <= burst_days * DAY
        self.rows = rows[new]  # transfer rows that are new links
        self.u = a[new]
        self.v = b[new]
        self.ts = arrays.ts[self.rows]
        # undirected CSR: per account, the positions (into self.rows) of its new links
        ends = np.concatenate([self.u, self.v])
        link = np.concatenate([np.arange(len(self.u)), np.arange(len(self.u))])
        order = np.argsort(ends, kind="stable")
        self._link = link[order]
        self._ptr = np.searchsorted(ends[order], np.arange(n + 1))
        self.link: np.ndarray | None = None  # per new link: its probability of laundering
        if links is not None:
            if self.mule is None:
                raise AssistantError("連結模型需要人頭分數 / the link model needs mule scores")
            if list(getattr(links, "names", ())) != list(LINK_NAMES):
                raise AssistantError("連結模型特徵不符 / the link model's features differ")
            X = link_features(arrays, self.rows, self.u, self.v, self.ts, self.mule)
            self.link = links.score(X) if len(X) else np.zeros(0)
        self.steps = None
        if steps is not None:
            if self.link is None:
                raise AssistantError("步進模型需要連結模型 / the step model needs the link model")
            if list(getattr(steps, "names", ())) != list(STEP_NAMES):
                raise AssistantError("步進模型特徵不符 / the step model's features differ")
            self.steps = steps
        self.members = None
        if members is not None:
            if self.steps is None:
                raise AssistantError("成員模型需要步進模型 / the member model needs the step model")
            if list(getattr(members, "names", ())) != list(MEMBER_NAMES):
                raise AssistantError("成員模型特徵不符 / the member model's features differ")
            self.members = members
        self.amount = arrays.amount[self.rows]
        self.frontier = frontier
        self.degree = np.diff(self._ptr)
        self._pct: tuple[Any, np.ndarray] | None = None  # (link array, its percentiles)
        self._mule_pct: np.ndarray | None = None

    def steps_at(
        self, hubs: np.ndarray, firsts: np.ndarray, window_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every step from ``hubs[i]``, reached over new link ``firsts[i]``, on to another of
        its new links within ``window_s`` of that one: (hub, first, next) per step."""
        hubs = np.asarray(hubs, dtype=np.int64)
        firsts = np.asarray(firsts, dtype=np.int64)
        start = self._ptr[hubs]
        size = self._ptr[hubs + 1] - start
        total = int(size.sum())
        offset = np.repeat(start - np.cumsum(np.r_[0, size[:-1]]), size)
        nxt = self._link[offset + np.arange(total)]
        hub = np.repeat(hubs, size)
        first = np.repeat(firsts, size)
        ok = (nxt != first) & (np.abs(self.ts[nxt] - self.ts[first]) <= window_s)
        return hub[ok], first[ok], nxt[ok]

    @property
    def walk(self) -> str:
        """Which walk ``expand`` takes: ``paths`` (over the link model, and the step model
        where there is one) or ``pagerank``."""
        return "paths" if self.link is not None else "pagerank"

    def _links_of(self, accounts: np.ndarray) -> np.ndarray:
        if len(accounts) == 0:
            return np.zeros(0, dtype=np.int64)
        parts = [self._link[self._ptr[i] : self._ptr[i + 1]] for i in accounts.tolist()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def position(self, account: str) -> int:
        acct = normalize_account(account)
        pos = self.arrays.index.get(acct)
        if pos is None:
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        if self.reserved[pos]:
            raise AssistantError(
                f"{account} 是現金或外部端點，不是客戶帳戶 / {account} is a cash or outside "
                "endpoint, not a customer account"
            )
        return pos

    def expand(
        self,
        account: str,
        *,
        hops: int | None = None,
        window_days: float | None = None,
        threshold: float | None = None,
        alpha: float = ALPHA,
        own: float = OWN,
        sharp: float = SHARP,
        limit: int = 50,
    ) -> RingResult:
        paths = self.link is not None
        judged = paths and self.members is not None
        if hops is None:
            hops = MEMBER_HOPS if judged else HOPS
        if window_days is None:
            window_days = LINK_WINDOW_DAYS if paths else WINDOW_DAYS
        if threshold is None:
            if judged:
                threshold = MEMBER_THRESHOLD
            elif paths:
                threshold = STEP_THRESHOLD if self.steps is not None else LINK_THRESHOLD
            else:
                threshold = THRESHOLD
        if not 1 <= hops <= 6:
            raise AssistantError(f"跳數須為 1 到 6 / hops must be 1 to 6: {hops}")
        if not (0.0 <= threshold <= 1.0):
            raise AssistantError(f"門檻須介於 0 與 1 / the threshold must be 0 to 1: {threshold}")
        if not window_days > 0:
            raise AssistantError(f"時間窗須為正數天 / the window must be positive: {window_days}")
        seed = self.position(account)
        acct = str(self.arrays.account_ids[seed])
        if paths:
            scores, hop, links = self._paths(seed, hops, window_days * DAY)
            if judged and scores is not None:
                scores = self._judged(seed, scores, hop, links)
        else:
            scores, hop, links = self._scores(seed, hops, window_days * DAY, alpha, own, sharp)
        if scores is None:
            return RingResult(acct, [], threshold, 0, [], self.mule is not None, self.walk)
        near = np.flatnonzero(hop >= 0)
        near = near[near != seed]
        chosen = near[scores[near] >= threshold]
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")][:limit]
        ring = np.zeros(self.n, dtype=bool)
        ring[chosen] = True
        ring[seed] = True
        seed_cp = self._counterparties(seed, links)
        tying = links[ring[self.u[links]] & ring[self.v[links]]]
        tying = tying[np.argsort(self.ts[tying], kind="stable")]
        ids = self.arrays.transfer_ids
        members = []
        for pos in chosen.tolist():
            own = links[(self.u[links] == pos) | (self.v[links] == pos)]
            tie = own[ring[self.u[own]] & ring[self.v[own]]]
            t = self.ts[own] if len(own) else np.array([0])
            members.append(
                RingMember(
                    account=str(self.arrays.account_ids[pos]),
                    score=float(scores[pos]),
                    hops=int(hop[pos]),
                    shared=len(seed_cp & self._counterparties(pos, links)),
                    mule=None if self.mule is None else float(self.mule[pos]),
                    first=int(t.min()),
                    last=int(t.max()),
                    transfers=[str(x) for x in ids[self.rows[tie]].tolist()][:20],
                )
            )
        return RingResult(
            acct,
            members,
            threshold,
            len(near),
            [str(x) for x in ids[self.rows[tying]].tolist()][:MAX_TRANSFERS],
            self.mule is not None,
            self.walk,
            self.steps is not None and paths,
            judged,
        )

    def _judged(
        self, seed: int, scores: np.ndarray, hop: np.ndarray, links: np.ndarray
    ) -> np.ndarray:
        """The member model's probability per candidate in place of its path score."""
        assert self.members is not None
        near = np.flatnonzero(hop >= 0)
        near = near[near != seed]
        out = np.zeros(self.n)
        if len(near):
            out[near] = self.members.score(self.member_features(seed, near, scores, hop, links))
        return out

    def _link_pct(self) -> np.ndarray:
        """Each new link's probability as a percentile among the ledger's new links (kept
        until the link array is replaced, as the eval does for out-of-fold scores)."""
        assert self.link is not None
        if self._pct is None or self._pct[0] is not self.link:
            pct = rankdata(self.link) / max(len(self.link), 1) if len(self.link) else self.link
            self._pct = (self.link, np.asarray(pct, dtype=float))
        return self._pct[1]

    def _mule_percentiles(self) -> np.ndarray:
        if self._mule_pct is None:
            self._mule_pct = (
                np.zeros(self.n) if self.mule is None else rankdata(self.mule) / max(self.n, 1)
            )
        return self._mule_pct

    def member_features(
        self, seed: int, near: np.ndarray, scores: np.ndarray, hop: np.ndarray, links: np.ndarray
    ) -> np.ndarray:
        """One row of ``MEMBER_NAMES`` per candidate in ``near`` (positions reached by the walk
        from ``seed``: its ``scores``, ``hop`` and the neighbourhood's ``links``, as ``_paths``
        returns them)."""
        pct = self._link_pct()
        n = self.n
        core = (scores >= CORE) & (hop >= 0)
        core[seed] = True
        # every link read from each of its ends: (account, the other end, percentile, time)
        a = np.concatenate([self.u[links], self.v[links]])
        b = np.concatenate([self.v[links], self.u[links]])
        p = np.concatenate([pct[links], pct[links]])
        t = np.concatenate([self.ts[links], self.ts[links]])
        # ties to the core: distinct core accounts, each by its strongest link
        m = core[b]
        pair, inv = np.unique(a[m] * n + b[m], return_inverse=True)
        strongest = np.zeros(len(pair))
        np.maximum.at(strongest, inv, p[m])
        owner = pair // n
        ties = np.bincount(owner, minlength=n)
        tie_pct = np.bincount(owner, weights=strongest, minlength=n)
        link_max = np.zeros(n)
        np.maximum.at(link_max, a, p)
        # how close in time its links run to the seed's own
        seed_t = np.sort(self.ts[self._links_of(np.array([seed]))])
        gap = np.full(n, np.inf)
        if len(seed_t):
            i = np.searchsorted(seed_t, t)
            lo = seed_t[np.clip(i - 1, 0, len(seed_t) - 1)]
            hi = seed_t[np.clip(i, 0, len(seed_t) - 1)]
            np.minimum.at(gap, a, np.minimum(np.abs(t - lo), np.abs(t - hi)).astype(float))
        gap[~np.isfinite(gap)] = 365.0 * DAY
        # counterparties shared with the seed
        theirs = np.zeros(n, dtype=bool)
        theirs[b[a == seed]] = True
        m = theirs[b] & (a != seed) & (b != seed)
        shared = np.bincount(np.unique(a[m] * n + b[m]) // n, minlength=n)
        order = np.argsort(-scores[near], kind="stable")
        rank = np.empty(len(near))
        rank[order] = np.arange(len(near))
        return np.column_stack(
            [
                scores[near],
                hop[near].astype(float),
                np.log1p(rank),
                self._mule_percentiles()[near],
                ties[near].astype(float),
                tie_pct[near],
                link_max[near],
                np.log1p(gap[near] / 3600.0),
                np.log1p(self.degree[near].astype(float)),
                shared[near].astype(float),
                np.full(len(near), np.log1p(len(near))),
            ]
        )

    def _counterparties(self, pos: int, links: np.ndarray) -> set[int]:
        mine = links[(self.u[links] == pos) | (self.v[links] == pos)]
        return set(np.concatenate([self.u[mine], self.v[mine]]).tolist()) - {pos}

    def _paths(
        self, seed: int, hops: int, window_s: float
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The most probable time-respecting path from the seed to each account within
        ``hops``: its probability over the strongest path's is the account's ring score. A
        link is followed from an account only within ``window_s`` of the link on that account's
        best path (the seed: any of its own links). A path's probability is the product of its
        links' laundering probabilities; with a step model, each link after the first weighs
        instead the step model's probability that it carries on the pattern of the link before
        it. Same returns as ``_scores``."""
        assert self.link is not None
        hop = np.full(self.n, -1, dtype=np.int64)
        hop[seed] = 0
        best = np.zeros(self.n)
        best[seed] = 1.0
        reached = np.zeros(self.n, dtype=np.int64)  # time of the link on the best path
        frontier = np.array([seed])
        used: list[np.ndarray] = []
        via = np.full(self.n, -1, dtype=np.int64)  # the link on each account's best path
        for k in range(1, hops + 1):
            if k > 1 and self.steps is not None:
                # every step on from each hub, weighed against the hub's other steps (as the
                # step model was fitted), then those to accounts already reached dropped
                near, first, both = self.steps_at(frontier, via[frontier], window_s)
                far = np.where(self.u[both] == near, self.v[both], self.u[both])
                X = step_features(self.ts, self.u, self.amount, self.link, near, first, both)
                step = self.steps.score(X) if len(X) else np.zeros(0)
                ok = hop[far] < 0
                near, far, both, step = near[ok], far[ok], both[ok], step[ok]
            else:
                links = self._links_of(frontier)
                if len(links) == 0:
                    break
                # each link read both ways; kept where its near end is on the frontier
                near = np.concatenate([self.u[links], self.v[links]])
                far = np.concatenate([self.v[links], self.u[links]])
                both = np.concatenate([links, links])
                ok = hop[near] == k - 1
                if k > 1:
                    ok &= np.abs(self.ts[both] - reached[near]) <= window_s
                ok &= hop[far] < 0  # an account is reached once, at its fewest hops
                near, far, both = near[ok], far[ok], both[ok]
                step = self.link[both]
            if len(both) == 0:
                break
            used.append(both)
            p = best[near] * step
            # per far account, its best candidate (the last of each after sorting by p)
            order = np.lexsort((p, far))
            far, p, both = far[order], p[order], both[order]
            last = np.r_[far[1:] != far[:-1], True]
            new = far[last]
            best[new] = p[last]
            reached[new] = self.ts[both[last]]
            via[new] = both[last]
            hop[new] = k
            frontier = new
            if self.frontier is not None and len(new) > self.frontier:
                # the walk goes on from the likeliest only: on a busy ledger the third hop
                # otherwise fans out to half the accounts (a million transfers: 28,000 of
                # 50,000 reached, 0.7 s an expansion; with 100, 12,000 and 0.2 s)
                frontier = new[np.argsort(-best[new], kind="stable")[: self.frontier]]
        if not used:
            return None, hop, np.zeros(0, dtype=np.int64)
        links = np.unique(np.concatenate(used))
        links = links[(hop[self.u[links]] >= 0) & (hop[self.v[links]] >= 0)]
        scores = best.copy()
        scores[seed] = 0.0
        top = scores.max()
        if top <= 0:
            return None, hop, links
        # over the strongest path's, as PageRank's over the strongest tie: a link model fitted on
        # one ledger is calibrated to that ledger's share of laundering links, and on a ledger
        # where mules are common its probabilities all shrink together (AMLGentex, 2,000
        # accounts: 16 % mules against 2 %); their order holds
        return scores / top, hop, links

    def _scores(
        self,
        seed: int,
        hops: int,
        window_s: float,
        alpha: float,
        power: float = OWN,
        sharp: float = SHARP,
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(ring score per account or None, hops from the seed per account (-1 beyond), the
        link positions inside the window and the neighbourhood)."""
        hop = np.full(self.n, -1, dtype=np.int64)
        hop[seed] = 0
        own = self._links_of(np.array([seed]))
        if len(own) == 0:
            return None, hop, own
        # time-respecting: a link is followed from an account only within ``window_s`` of the
        # links that reached that account (the seed itself: any of its own links)
        lo = np.full(self.n, np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full(self.n, np.iinfo(np.int64).min, dtype=np.int64)
        lo[seed], hi[seed] = self.ts[own].min(), self.ts[own].max()
        frontier = np.array([seed])
        seen_links: list[np.ndarray] = []
        for k in range(1, hops + 1):
            links = self._links_of(frontier)
            u, v, t = self.u[links], self.v[links], self.ts[links]
            # the end of each link that is on the frontier (hop k-1): its reach times bound it
            at = np.where(hop[u] == k - 1, u, v)
            ok = (t >= lo[at] - window_s) & (t <= hi[at] + window_s)
            links, t = links[ok], t[ok]
            far = np.where(at[ok] == self.u[links], self.v[links], self.u[links])
            seen_links.append(links)
            fresh = hop[far] < 0
            np.minimum.at(lo, far[fresh], t[fresh])
            np.maximum.at(hi, far[fresh], t[fresh])
            new = np.unique(far[fresh])
            hop[new] = k
            frontier = new
            if len(frontier) == 0:
                break
        links = np.unique(np.concatenate(seen_links))
        # only links among the neighbourhood (the last hop's outward links end outside it)
        links = links[(hop[self.u[links]] >= 0) & (hop[self.v[links]] >= 0)]
        if len(links) == 0:
            return None, hop, links
        u, v = self.u[links], self.v[links]
        w = (
            np.ones(len(links))
            if self.mule is None
            else (self.mule[u] * self.mule[v]) ** (sharp / 2)
        )
        w = np.maximum(w, 1e-9)
        W = csr_matrix(
            (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))),
            shape=(self.n, self.n),
        )
        deg = np.asarray(W.sum(axis=1)).ravel()
        deg[deg == 0] = 1.0
        P = csr_matrix(W.multiply(1.0 / deg[:, None]))
        e = np.zeros(self.n)
        e[seed] = 1.0
        x = e.copy()
        PT = P.T.tocsr()
        for _ in range(ITERATIONS):
            x = alpha * e + (1 - alpha) * (PT @ x)
        if self.mule is not None and power:
            x = x * self.mule**power  # the member's own suspicion, besides its tie to the seed
        x[seed] = 0.0
        top = x.max()
        if top <= 0:
            return None, hop, links
        return x / top, hop, links
