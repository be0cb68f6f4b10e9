"""A fraud investigator's request, read without a model: which account, which direction, how
many hops, which period, and whether a risk score is asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from assistant.extract import check_dates, find_accounts, find_date_range, find_hops
from assistant.fraud.trace import MAX_HOPS  # the desk's own limit on a trace's depth

_UP = re.compile(
    r"前期金流|上游|來源|從哪(裡|兒)?來|哪來|匯入來源|[往向]上追|upstream|came\s+from|source", re.I
)
_DOWN = re.compile(
    r"下游|去向|流向|流到|流去|轉去|轉到哪|[往向]下追|downstream|went|where\s+.*go", re.I
)
# Words asking for the flows themselves: 追查、追蹤、往下追, 金流, trace, track, follow the money.
_FLOWS = re.compile(
    r"金流|追|trace|flow|follow\s+the\s+(?:money|funds)|track\s+the\s+(?:money|funds)", re.I
)
_SCORE = re.compile(r"水房|人頭|車手|風險|可疑|像不像|分數|評分|mule|risk|score|suspicious", re.I)
_DAYS = re.compile(
    r"(?:近|最近|過去|前)\s*(\d{1,3}|[一二三四五六七八九十]{1,3})\s*(?:天|日)|last\s+(\d{1,3})\s+days",
    re.I,
)
# A decision asked for: flag the account, or export the evidence. The agent only proposes it.
_FLAG = re.compile(
    r"(標記|列為|列入|設為|設定為|改為|通報為?)\s*(為)?\s*(警示|衍生管制)|(警示|衍生管制)帳戶\s*(吧|嗎)?\s*$|"
    r"\bflag\b",
    re.I,
)
_EXPORT = re.compile(r"匯出|輸出|下載|export|download", re.I)
_EVIDENCE = re.compile(r"證據|金流|交易|明細|evidence|trace|transfers", re.I)
_LOOKUP = re.compile(
    r"帳戶資料|帳戶資訊|基本資料|開戶|狀態|哪一?家銀行|查詢帳戶|查帳戶|account\s+(info|details|status)|"
    r"look\s*up|who\s+holds",
    re.I,
)
# 「這個帳戶的同夥有哪些？」: the other accounts of its ring
_RING = re.compile(r"同夥|共犯|同集團|同一集團|集團成員|ring\b|accomplices?|associates", re.I)
# 「警示 #12」「警示編號 12」「第 12 號警示」「alert #12」: one of the monitor's alerts. A number
# needs the # or 編號 after 警示, since 警示 alone is also an account status (警示帳戶).
_ALERT = re.compile(
    r"(?:警示|告警)\s*(?:編號|案號)?\s*[#＃]\s*(\d{1,9})|(?:警示|告警)\s*(?:編號|案號)\s*(\d{1,9})|"
    r"第\s*(\d{1,9})\s*號\s*(?:警示|告警)|\balert\s*(?:no\.?|id)?\s*[#＃]?\s*(\d{1,9})\b",
    re.I,
)
# 「風險最高的帳戶」「前 20 名可疑帳戶」「top 10 riskiest accounts」: the ledger's highest scores.
_TOP = re.compile(
    r"風險最高|最可疑|分數最高|前\s*(\d{1,3})\s*(?:名|個|大)|\btop\s*(\d{1,3})\b|"
    r"highest[- ]risk|riskiest",
    re.I,
)
_TOP_N = re.compile(r"前\s*(\d{1,3})\s*(?:名|個|大)|\btop\s*(\d{1,3})\b", re.I)
MAX_TOP = 100
_CN = {c: i for i, c in enumerate("零一二三四五六七八九", 0)}


@dataclass
class FraudRequest:
    account: str | None = None
    directions: list[str] = field(default_factory=lambda: ["up", "down"])
    hops: int = 3
    days: int | None = None  # 近 N 天: counted back from the ledger's newest transfer
    since: date | None = None
    until: date | None = None
    wants_trace: bool = True
    wants_score: bool = False
    wants_lookup: bool = False  # only the account's own record (bank, opened, status)
    flag: str | None = None  # 警示 / 衍生管制: a flag the investigator asks to propose
    wants_export: bool = False  # an evidence export to propose
    wants_ring: bool = False  # the other accounts of its ring (rings.RingFinder)
    alert_id: int | None = None  # 「警示 #12 …」: the alert's account, 前期金流 by default
    top: int | None = None  # 「風險最高的帳戶」: how many of the highest-scored accounts
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said beside the answer, nothing blocked


def _cn_small(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_CN.get(text[1:], 0) if len(text) > 1 else 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN[tens] * 10 + (_CN.get(ones, 0) if ones else 0)
    return _CN.get(text, 0)


def parse_request(text: str) -> FraudRequest:
    req = FraudRequest()
    alert = _ALERT.search(text)
    if alert:
        req.alert_id = int(next(g for g in alert.groups() if g))
        text = text[: alert.start()] + " " + text[alert.end() :]  # its number is no account
    accounts = find_accounts(text)
    if accounts:
        a = accounts[0]
        req.account = (a.bank_code or "") + a.number if a.bank_code else a.number
    up, down = bool(_UP.search(text)), bool(_DOWN.search(text))
    if up != down:
        req.directions = ["up"] if up else ["down"]
    elif req.alert_id is not None and not down:
        req.directions = ["up"]  # after an alert, the question is where the money came from
    hops = find_hops(text)
    if hops is not None:
        req.hops = max(1, min(MAX_HOPS, hops))
        if hops > MAX_HOPS:
            req.notes.append(
                f"一次最多追查 {MAX_HOPS} 層，已查 {MAX_HOPS} 層 / at most {MAX_HOPS} hops a trace: "
                f"{MAX_HOPS} traced, not {hops}"
            )
    m = _DAYS.search(text)
    if m:
        req.days = _cn_small(m.group(1) or m.group(2))
    if _TOP.search(text) and req.account is None and req.alert_id is None:
        count = _TOP_N.search(text)
        n = int(count.group(1) or count.group(2)) if count else 10
        req.top = max(1, min(MAX_TOP, n))
    req.errors = check_dates(text)
    if not req.errors:
        req.since, req.until = find_date_range(text)
    flag = _FLAG.search(text)
    if flag:
        req.flag = "衍生管制" if "衍生管制" in flag.group(0) else "警示"
    req.wants_export = bool(_EXPORT.search(text) and _EVIDENCE.search(text))
    decision = bool(req.flag or req.wants_export)
    req.wants_score = bool(_SCORE.search(text)) and not (
        req.flag and not re.search(r"像|分數|評分|風險|score|risk", text, re.I)
    )
    # A direction, a depth or 追/金流 asks for the flows: a trace, which reads other customers'
    # transfers, so it is run when asked for (or from an alert, whose question is 前期金流).
    flows = bool(_FLOWS.search(text)) or up or down or hops is not None
    req.wants_ring = bool(_RING.search(text))
    req.wants_lookup = bool(_LOOKUP.search(text)) and not flows and not req.wants_score
    # 「這個帳戶像水房嗎？」 asks for a score, not a trace, unless flows are mentioned too; a
    # decision or a lookup asks for neither.
    asked = req.wants_score or req.wants_lookup or decision or req.wants_ring
    req.wants_trace = flows or (not asked and req.alert_id is not None)
    if not (flows or asked or req.top or req.alert_id is not None):
        # Nothing this desk reads was named (an account alone, or words it does not know):
        # the account's own score, the least it can read, and how to ask for more.
        req.wants_score = True
        req.notes.append(
            "未說明要查什麼，先列出此帳戶的風險分數；追查金流請說「往上追」「往下追」或「前期金流」 / "
            "no request was recognised, so the account's score is shown; ask to trace up or down "
            "for its flows"
        )
    if req.wants_export and not flows:
        req.wants_trace = False  # the export itself runs the trace when it is confirmed
    return req
