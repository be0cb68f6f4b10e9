"""The transfer monitor: each transfer scored on arrival against the rules and an online anomaly
model, with per-account state updated as it goes.

State per customer account is what the rules look back over (recent transfers out and in, the
payees seen, the new ones and the near-threshold amounts within the rule set's longest window),
and running totals of the batch scorer's kind (counts, amounts, distinct counterparties, cash),
each updated in O(1) amortised per transfer. The banks' CASH accounts and OUTSIDE keep no state:
they are endpoints, not customers.

The anomaly model is river's HalfSpaceTrees over a few per-transfer features scaled to [0, 1]; it
learns from every transfer after scoring it, and alerts only after ``warmup`` transfers (before
that its score means little).

A decision is ``pass``, ``alert`` (an investigator looks at it) or ``hold`` (the transfer waits for
review); it is the strongest action among the reasons that fired, and ``escalate_at`` alert-level
reasons on one transfer make it a hold. Each reason is in words, Chinese first, English second.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.fraud.records import is_reserved
from assistant.monitor.mule_score import OnArrival, Tally, count, reason_words
from assistant.monitor.rules import Rule, RuleSet
from assistant.monitor.signals import KIND_WORDS, SignalTable, hits
from assistant.monitor.transfers import Transfer, iso

SEVERITY = {"pass": 0, "alert": 1, "hold": 2}
DECISION_WORDS = {"pass": "放行", "alert": "警示", "hold": "暫停待審"}


@dataclass(frozen=True)
class Reason:
    rule: str
    account: str  # whose behaviour the reason is about
    action: str  # alert | hold
    zh: str
    en: str
    value: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "account": self.account,
            "action": self.action,
            "zh": self.zh,
            "en": self.en,
            "value": round(self.value, 4),
        }

    @property
    def text(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass
class Decision:
    transfer: Transfer
    action: str
    reasons: list[Reason]
    score: float  # the anomaly model's score (0 while warming up)
    rules_version: str
    latency_ms: float = 0.0

    @property
    def account(self) -> str:
        """The account the decision is about: the strongest reason's (else the payer)."""
        if not self.reasons:
            return self.transfer.from_account
        top = max(self.reasons, key=lambda r: SEVERITY[r.action])
        return top.account

    def to_dict(self) -> dict[str, Any]:
        return {
            "transfer_id": self.transfer.id,
            "ts": iso(self.transfer.ts),
            "action": self.action,
            "decision": f"{DECISION_WORDS[self.action]} / {self.action}",
            "account": self.account,
            "amount": self.transfer.amount,
            "from_account": self.transfer.from_account,
            "to_account": self.transfer.to_account,
            "kind": self.transfer.kind,
            "score": round(self.score, 4),
            "reasons": [r.to_dict() for r in self.reasons],
            "rules_version": self.rules_version,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass
class AccountState:
    """What the rules need of one account's recent past, and its running totals."""

    first_ts: int
    out: deque[tuple[int, float, str]] = field(default_factory=deque)  # (ts, amount, payee)
    inc: deque[tuple[int, float, str]] = field(default_factory=deque)  # (ts, amount, payer)
    new_payees: deque[int] = field(default_factory=deque)
    near: deque[int] = field(default_factory=deque)  # just-under-threshold amounts
    cash: deque[tuple[int, float, str]] = field(default_factory=deque)  # cash withdrawals
    payees: set[str] = field(default_factory=set)
    payers: set[str] = field(default_factory=set)
    n_out: int = 0
    n_in: int = 0
    sum_out: float = 0.0
    sum_in: float = 0.0
    cash_in: float = 0.0
    cash_out: float = 0.0
    peaks: dict[str, float] = field(default_factory=dict)  # rule id → highest window value
    tally: Tally = field(default_factory=Tally)  # the mule score's features (``mule_score``)

    def prune(self, now: int, horizon: int) -> None:
        edge = now - horizon
        for q in (self.out, self.inc, self.cash):
            while q and q[0][0] < edge:
                q.popleft()
        for d in (self.new_payees, self.near):
            while d and d[0] < edge:
                d.popleft()

    def features(self) -> dict[str, float]:
        """The running totals, the batch scorer's kind of features kept up to date."""
        return {
            "n_out": self.n_out,
            "n_in": self.n_in,
            "sum_out": self.sum_out,
            "sum_in": self.sum_in,
            "distinct_payees": len(self.payees),
            "distinct_payers": len(self.payers),
            "cash_in": self.cash_in,
            "cash_out": self.cash_out,
        }


def _money(x: float) -> str:
    return f"NT${x:,.0f}"


def _span(seconds: int) -> tuple[str, str]:
    if seconds % 86400 == 0:
        d = seconds // 86400
        return f"{d} 天", f"{d} day{'s' if d > 1 else ''}"
    if seconds % 3600 == 0:
        h = seconds // 3600
        return f"{h} 小時", f"{h} hour{'s' if h > 1 else ''}"
    m = max(1, seconds // 60)
    return f"{m} 分鐘", f"{m} minute{'s' if m > 1 else ''}"


def _since(q: deque[tuple[int, float, str]], edge: int) -> list[tuple[int, float, str]]:
    """The entries of a time-ordered deque at or after ``edge`` (scanned from the newest)."""
    out = []
    for item in reversed(q):
        if item[0] < edge:
            break
        out.append(item)
    return out


def _above_usual(rule: Rule, now: float, so_far: float, st: AccountState, ts: int) -> bool:
    """Whether ``now`` (a count or sum over the rule's window) is unusual for this account:
    ``usual_factor`` times what its own history averages per window (a shop's steady stream of
    payments is its usual, a mule's sudden one is not), and with ``above_peak`` higher than any
    window of it before (a payroll run each month is as high as the last one). An account with
    less than ``min_history_s`` of history has no average yet."""
    p = rule.params
    if p.get("above_peak"):
        peak = st.peaks.get(rule.id, 0.0)
        st.peaks[rule.id] = max(peak, now)
        if now <= peak:
            return False
    factor = p.get("usual_factor")
    if not factor:
        return True
    age = ts - st.first_ts
    if age < p.get("min_history_s", 7 * 86400):
        return True
    usual = so_far * p["window_s"] / age
    return now > factor * usual


class TransferMonitor:
    """Scores transfers one by one, in arrival order. Not thread-safe: one monitor per stream
    (the desk serialises calls to its own)."""

    def __init__(
        self,
        rules: RuleSet,
        signals: Sequence[SignalTable] = (),
        mule: OnArrival | None = None,
    ) -> None:
        self.rules = rules
        self._report_band = self._band(rules)
        self.signals = list(signals)  # outside lists (``monitor.signals``) the rules may read
        # The mule score on arrival (``mule_score`` rules); without a model they do not fire.
        self.mule = mule
        self.accounts: dict[str, AccountState] = {}
        self.seen = 0
        # Where the monitor stands in time: the latest transfer time it has seen and the ids
        # seen at that second, so a restart can feed it what a ledger got since without
        # scoring a transfer twice (equal timestamps are common in batch exports).
        self.last_ts: int | None = None
        self.last_ids: set[str] = set()
        self._model: Any = None
        self._load_model()

    def _load_model(self) -> None:
        a = self.rules.anomaly
        if not a.get("enabled"):
            self._model = None
            return
        from river.anomaly import HalfSpaceTrees

        self._model = HalfSpaceTrees(
            n_trees=a.get("n_trees", 10),
            height=a.get("height", 8),
            window_size=a.get("window_size", 250),
            seed=a.get("seed", 42),
        )

    def replace_rules(self, rules: RuleSet) -> None:
        """New rules from the next transfer on; account state is kept, the anomaly model is
        started again only when its own settings changed."""
        old = self.rules.anomaly
        self.rules = rules
        self._report_band = self._band(rules)
        if rules.anomaly != old:
            self._load_model()

    # ---- state ----------------------------------------------------------------------------

    def _state(self, account: str, ts: int) -> AccountState | None:
        if is_reserved(account):
            return None
        st = self.accounts.get(account)
        if st is None:
            st = self.accounts[account] = AccountState(first_ts=ts)
        elif ts < st.first_ts:
            # A late transfer (a feed delivers out of order, or history is fed after newer
            # transfers were scored): the account was seen first then, not later.
            st.first_ts = ts
        return st

    def features(self, account: str) -> dict[str, float] | None:
        st = self.accounts.get(account)
        return st.features() if st is not None else None

    # ---- scoring --------------------------------------------------------------------------

    def process(self, t: Transfer) -> Decision:
        """Score ``t`` against the state before it, then add it to the state."""
        t0 = time.perf_counter()
        horizon = self.rules.horizon_s
        payer = self._state(t.from_account, t.ts)
        payee = self._state(t.to_account, t.ts)
        if payer is not None:
            payer.prune(t.ts, horizon)
        if payee is not None:
            payee.prune(t.ts, horizon)
        new_payee = t.kind == "transfer" and payer is not None and t.to_account not in payer.payees
        reasons: list[Reason] = []
        for rule in self.rules.rules:
            r = self._check(rule, t, payer, payee, new_payee)
            if r is not None:
                reasons.append(r)
        score = self._anomaly(t, payer, payee, new_payee, reasons)
        self._update(t, payer, payee, new_payee)
        self.seen += 1
        if self.mule is not None:
            # On the state with this transfer in it: the money it moves is part of the case.
            for rule in self.rules.rules:
                if rule.kind == "mule_score":
                    self._mule_score(rule, t, payer, payee, reasons)
        if self.last_ts is None or t.ts > self.last_ts:
            self.last_ts = t.ts
            self.last_ids = {t.id}
        elif t.ts == self.last_ts:
            self.last_ids.add(t.id)
        action = "pass"
        for r in reasons:
            if SEVERITY[r.action] > SEVERITY[action]:
                action = r.action
        if action == "alert" and len(reasons) >= self.rules.escalate_at:
            action = "hold"
        return Decision(
            transfer=t,
            action=action,
            reasons=reasons,
            score=score,
            rules_version=self.rules.version,
            latency_ms=(time.perf_counter() - t0) * 1000.0,
        )

    def _update(
        self, t: Transfer, payer: AccountState | None, payee: AccountState | None, new: bool
    ) -> None:
        new_in = (
            t.kind == "transfer"
            and payer is not None
            and payee is not None
            and t.from_account not in payee.payers
        )
        count(
            t.kind,
            t.ts,
            t.amount,
            payer.tally if payer is not None else None,
            payee.tally if payee is not None else None,
            new_out=new,
            new_in=new_in,
            near=self._near_report(t.amount),
        )
        if payer is not None:
            payer.n_out += 1
            payer.sum_out += t.amount
            if t.kind == "cash_out":
                payer.cash_out += t.amount
                payer.cash.append((t.ts, t.amount, t.to_account))
            else:
                payer.out.append((t.ts, t.amount, t.to_account))
                if new:
                    payer.new_payees.append(t.ts)
                payer.payees.add(t.to_account)
        if payee is not None:
            payee.n_in += 1
            payee.sum_in += t.amount
            if t.kind == "cash_in":
                payee.cash_in += t.amount
            else:
                payee.inc.append((t.ts, t.amount, t.from_account))
                payee.payers.add(t.from_account)
        for rule in self.rules.rules:
            if rule.kind == "structuring" and self._near(rule, t):
                st = payee if t.kind == "cash_in" else payer
                if st is not None:
                    st.near.append(t.ts)
                break

    def _near_report(self, amount: float) -> bool:
        """Just under the reporting threshold, as the mule score's model counts it (else as the
        structuring rule does)."""
        if self.mule is not None and self.mule.model.cash_rules is not None:
            return self.mule.near(amount)
        band = self._report_band
        return band is not None and band[0] <= amount < band[1]

    @staticmethod
    def _band(rules: RuleSet) -> tuple[float, float] | None:
        """The structuring rule's "just under the threshold" band, looked up once per rule set
        (every transfer asks)."""
        for rule in rules.rules:
            if rule.kind == "structuring":
                p = rule.params
                return p["threshold"] * (1 - p["band"]), p["threshold"]
        return None

    def _mule_score(
        self,
        rule: Rule,
        t: Transfer,
        payer: AccountState | None,
        payee: AccountState | None,
        reasons: list[Reason],
    ) -> None:
        mule = self.mule
        assert mule is not None
        if mule.due(t.ts, self.seen):
            mule.refresh((st.tally for st in self.accounts.values()), t.ts, self.seen)
        min_rows = rule.params.get("min_rows", 2)
        looks = rule.params.get("min_looks", 1)
        repeat = rule.params.get("repeat_s", 0)
        for who, st in ((t.to_account, payee), (t.from_account, payer)):
            if st is None or st.tally.rows < min_rows or (who == t.to_account and st is payer):
                continue
            score, ranks = mule.score(who, st.tally)
            model = mule.model_for(who)
            threshold = mule.threshold(who, rule.params.get("threshold"))
            if score < threshold:
                st.tally.above = 0
                continue
            st.tally.above += 1
            if st.tally.above < looks:
                continue
            if st.tally.named_ts >= 0 and t.ts - st.tally.named_ts < repeat:
                continue  # named already: the queue holds its alert, the trace its transfers
            st.tally.named_ts = t.ts
            why_zh, why_en = reason_words(model, ranks)
            reasons.append(
                Reason(
                    rule.id,
                    who,
                    rule.action,
                    f"帳戶 {who} 的人頭帳戶分數 {score:.2f}（門檻 {threshold:.2f}）"
                    + (f"：{why_zh}" if why_zh else ""),
                    f"account {who} scores {score:.2f} as a mule (threshold {threshold:.2f})"
                    + (f": {why_en}" if why_en else ""),
                    score,
                )
            )

    @staticmethod
    def _near(rule: Rule, t: Transfer) -> bool:
        p = rule.params
        kinds = p.get("kinds") or ["transfer", "cash_in", "cash_out"]
        return t.kind in kinds and p["threshold"] * (1 - p["band"]) <= t.amount < p["threshold"]

    def _check(
        self,
        rule: Rule,
        t: Transfer,
        payer: AccountState | None,
        payee: AccountState | None,
        new_payee: bool,
    ) -> Reason | None:
        p = rule.params
        kind = rule.kind
        if kind == "mule_score":
            return None  # scored after the state is updated (``_mule_score``)
        if kind == "watchlist":
            return self._watchlist(rule, t)
        if kind == "signal":
            return self._signal(rule, t)
        if kind == "structuring":
            if not self._near(rule, t):
                return None
            who = t.customer
            st = payee if t.kind == "cash_in" else payer
            if st is None:
                return None
            edge = t.ts - p["window_s"]
            count = 1 + sum(1 for ts in st.near if ts >= edge)
            if count < p["min_count"]:
                return None
            zh_w, en_w = _span(p["window_s"])
            lo = p["threshold"] * (1 - p["band"])
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內有 {count} 筆略低於申報門檻 {_money(p['threshold'])} 的交易"
                f"（{_money(lo)} 至 {_money(p['threshold'])}），疑似拆單規避申報",
                f"account {who} made {count} transactions just under the "
                f"{_money(p['threshold'])} reporting threshold within {en_w} (possible structuring)",
                count,
            )
        if kind == "cash_out_after_in":
            if t.kind != "cash_out" or payer is None:
                return None
            got = _since(payer.inc, t.ts - p["window_s"])
            total = sum(a for _, a, _ in got)
            if total < p["min_in"]:
                return None
            # this withdrawal and the others since the first of those incoming transfers
            first = min(ts for ts, _, _ in got)
            cash = t.amount + sum(a for _, a, _ in _since(payer.cash, first))
            if cash < p["min_ratio"] * total:
                return None
            zh_w, en_w = _span(p["window_s"])
            who = t.from_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內收到 {len(got)} 筆轉入共 {_money(total)} 後，提領現金 "
                f"{_money(cash)}（{cash / total:.0%}）：款項離開銀行體系",
                f"account {who} withdrew {_money(cash)} in cash ({cash / total:.0%}) "
                f"after receiving {_money(total)} in {len(got)} transfers within {en_w}: "
                "the money leaves the banking system",
                cash / total,
            )
        if t.kind != "transfer":
            return None
        if kind == "velocity_out":
            if payer is None:
                return None
            n = 1 + len(_since(payer.out, t.ts - p["window_s"]))
            if n <= p["max_count"] or not _above_usual(rule, n, payer.n_out, payer, t.ts):
                return None
            zh_w, en_w = _span(p["window_s"])
            who = t.from_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內轉出 {n} 筆（上限 {p['max_count']} 筆）",
                f"account {who} made {n} transfers out within {en_w} (limit {p['max_count']})",
                n,
            )
        if kind == "velocity_in":
            if payee is None:
                return None
            got = _since(payee.inc, t.ts - p["window_s"])
            n = 1 + len(got)
            payers = len({f for _, _, f in got} | {t.from_account})
            if n <= p["max_count"] or payers < p.get("min_payers", 0):
                return None
            if not _above_usual(rule, n, payee.n_in, payee, t.ts):
                return None
            zh_w, en_w = _span(p["window_s"])
            who = t.to_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內收到 {payers} 個帳戶的 {n} 筆轉入（上限 {p['max_count']} 筆）",
                f"account {who} received {n} transfers from {payers} accounts within {en_w} "
                f"(limit {p['max_count']})",
                n,
            )
        if kind == "amount_out":
            if payer is None:
                return None
            total = t.amount + sum(a for _, a, _ in _since(payer.out, t.ts - p["window_s"]))
            if total < p["max_amount"] or not _above_usual(rule, total, payer.sum_out, payer, t.ts):
                return None
            zh_w, en_w = _span(p["window_s"])
            who = t.from_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內轉出共 {_money(total)}（上限 {_money(p['max_amount'])}）",
                f"account {who} sent {_money(total)} within {en_w} (limit "
                f"{_money(p['max_amount'])})",
                total,
            )
        if kind == "new_payee_burst":
            if payer is None or not new_payee:
                return None
            edge = t.ts - p["window_s"]
            n = 1 + sum(1 for ts in payer.new_payees if ts >= edge)
            if n < p["min_new"]:
                return None
            zh_w, en_w = _span(p["window_s"])
            who = t.from_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 於 {zh_w}內轉給 {n} 個從未往來的新收款人",
                f"account {who} paid {n} new payees within {en_w}",
                n,
            )
        if kind == "pass_through":
            if payer is None:
                return None
            got = _since(payer.inc, t.ts - p["window_s"])
            total_in = sum(a for _, a, _ in got)
            if total_in < p["min_in"]:
                return None
            # this transfer and the others out since the first of those incoming ones
            first = min(ts for ts, _, _ in got)
            sent = t.amount + sum(a for _, a, _ in _since(payer.out, first))
            ratio = sent / total_in
            if ratio < p["min_ratio"] or ratio > p.get("max_ratio", math.inf):
                return None
            minutes = max(1, (t.ts - first) // 60)
            who = t.from_account
            return Reason(
                rule.id,
                who,
                rule.action,
                f"帳戶 {who} 收到 {_money(total_in)} 後 {minutes} 分鐘內轉出 {_money(sent)}"
                f"（{ratio:.0%}），款項快進快出",
                f"account {who} received {_money(total_in)} and passed {_money(sent)} on "
                f"({ratio:.0%}) within {minutes} minutes: money in, then straight out",
                ratio,
            )
        return None

    def _watchlist(self, rule: Rule, t: Transfer) -> Reason | None:
        listed = rule.params.get("accounts") or ()
        for who, side_zh, side_en in (
            (t.to_account, "收款帳戶", "payee"),
            (t.from_account, "付款帳戶", "payer"),
        ):
            if who in listed:
                return Reason(
                    rule.id,
                    who,
                    rule.action,
                    f"{side_zh} {who} 在觀察名單上",
                    f"the {side_en} {who} is on the watchlist",
                    1.0,
                )
        terms = rule.params.get("memo_terms") or ()
        if t.memo and terms:
            hit = next((w for w in terms if w in t.memo), None)
            if hit is not None:
                return Reason(
                    rule.id,
                    t.from_account,
                    rule.action,
                    f"附言含觀察名單用語「{hit}」",
                    f"the memo contains the watchlist term {hit!r}",
                    1.0,
                )
        return None

    def _signal(self, rule: Rule, t: Transfer) -> Reason | None:
        if not self.signals:
            return None
        names = rule.params.get("tables") or []
        tables = [s for s in self.signals if not names or s.name in names]
        found = hits(tables, t.from_account, t.to_account, t.memo)
        if not found:
            return None
        table, value, where = found[0]
        zh_kind, en_kind = KIND_WORDS[table.kind]
        zh_where = {"payee": "收款", "payer": "付款", "memo": "附言中的"}[where]
        en_where = {"payee": "the payee", "payer": "the payer", "memo": "the memo names"}[where]
        who = t.to_account if where != "payer" else t.from_account
        when = table.as_of or table.imported_at[:10]
        return Reason(
            rule.id,
            who,
            rule.action,
            f"{zh_where}{zh_kind} {value} 在外部清單「{table.name}」上（{table.source}，{when}）",
            f"{en_where} {en_kind} {value}, on the outside list {table.name!r} "
            f"({table.source}, {when})",
            float(len(found)),
        )

    # ---- the anomaly model ----------------------------------------------------------------

    def _anomaly(
        self,
        t: Transfer,
        payer: AccountState | None,
        payee: AccountState | None,
        new_payee: bool,
        reasons: list[Reason],
    ) -> float:
        model = self._model
        if model is None:
            return 0.0
        x = self._x(t, payer, payee, new_payee)
        a = self.rules.anomaly
        score = float(model.score_one(x)) if self.seen >= a["warmup"] else 0.0
        model.learn_one(x)
        if score >= a["threshold"]:
            # A transfer to a payee the payer never paid before is suspect on the payee's side
            # (a scam victim paying a mule); otherwise it is the payer's own behaviour.
            who = (
                t.to_account
                if (new_payee and payee is not None) or payer is None
                else t.from_account
            )
            reasons.append(
                Reason(
                    "anomaly",
                    who,
                    a.get("action", "alert"),
                    f"異常偵測模型分數 {score:.2f}（門檻 {a['threshold']:.2f}）：此筆交易的金額、時間與"
                    "帳戶近期往來模式和平常交易差異大",
                    f"anomaly score {score:.2f} (threshold {a['threshold']:.2f}): amount, time and "
                    "the account's recent pattern differ from ordinary traffic",
                    score,
                )
            )
        return score

    @staticmethod
    def _x(
        t: Transfer, payer: AccountState | None, payee: AccountState | None, new_payee: bool
    ) -> dict[str, float]:
        """Per-transfer features in [0, 1] (HalfSpaceTrees splits the unit cube)."""
        hour = ((t.ts + 8 * 3600) % 86400) / 86400.0  # Taiwan time of day
        out_1h = len(_since(payer.out, t.ts - 3600)) if payer is not None else 0
        in_1h = len(_since(payee.inc, t.ts - 3600)) if payee is not None else 0
        got = _since(payer.inc, t.ts - 7200) if payer is not None else []
        total_in = sum(a for _, a, _ in got)
        age = max(0, t.ts - payer.first_ts) if payer is not None else 0
        return {
            "amount": min(1.0, math.log10(1.0 + t.amount) / 7.0),
            "hour": hour,
            "out_1h": min(1.0, out_1h / 10.0),
            "in_1h": min(1.0, in_1h / 10.0),
            "new_payee": 1.0 if new_payee else 0.0,
            "pass": min(1.0, t.amount / total_in) if total_in > 0 else 0.0,
            "cash": 1.0 if t.kind != "transfer" else 0.0,
            "age": min(1.0, math.log10(1.0 + age / 3600.0) / 4.0),
        }
