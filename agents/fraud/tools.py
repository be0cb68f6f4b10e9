"""The fraud agent's tools: each a method of the fraud desk, called with the investigator and
the conversation, so the desk checks the role and records who looked at which account."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from agents.tools import Tool, ToolArgs
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from agents.context import RunContext
    from assistant.desks.fraud import FraudDesk
    from assistant.fraud.trace import TraceResult


class AccountArgs(ToolArgs):
    account: str


class TraceArgs(ToolArgs):
    account: str
    direction: Literal["up", "down"] = "down"
    hops: int = 3
    # ISO dates or date-times as the request holds them (the checkpoint keeps plain data).
    since: str | None = None
    until: str | None = None


class ScoreArgs(ToolArgs):
    account: str
    reasons: int = 0  # the reasons come from fraud_explain, recorded as a call of their own


class RingArgs(ToolArgs):
    account: str
    limit: int = 20


class TopArgs(ToolArgs):
    n: int = 10


class AlertArgs(ToolArgs):
    alert_id: int


class ProposeArgs(ToolArgs):
    kind: Literal["flag", "export"]
    account: str
    status: str | None = None  # flag: the status proposed
    directions: list[str] | None = None  # export: the trace to export
    hops: int | None = None
    since: str | None = None
    until: str | None = None
    reason: str = ""  # what the investigator sees when deciding


def desk(ctx: RunContext) -> FraudDesk:
    d = ctx.services.fraud
    if d is None:
        raise AssistantError("防詐服務未啟用 / the fraud service is not configured")
    return d


def _top(ctx: RunContext, a: TopArgs) -> dict[str, Any]:
    d = desk(ctx)
    return {"accounts": d.top(ctx.user, a.n), "model": d.model(ctx.user)}


def _alert(ctx: RunContext, a: AlertArgs) -> dict[str, Any]:
    d = ctx.services.fraud_monitor
    if d is None:
        raise AssistantError("即時監控未啟用 / the transfer monitor is not configured")
    return d.alert(ctx.user, a.alert_id, conversation_id=ctx.conversation_id)


def _when(value: str | None) -> date | datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _account(ctx: RunContext, a: AccountArgs) -> dict[str, Any]:
    return desk(ctx).account(ctx.user, a.account, conversation_id=ctx.conversation_id)


def _trace(ctx: RunContext, a: TraceArgs) -> TraceResult:
    return desk(ctx).trace(
        ctx.user,
        a.account,
        a.direction,
        a.hops,
        conversation_id=ctx.conversation_id,
        since=_when(a.since),
        until=_when(a.until),
    )


def _score(ctx: RunContext, a: ScoreArgs) -> dict[str, Any]:
    return desk(ctx).score(ctx.user, a.account, a.reasons, conversation_id=ctx.conversation_id)


def _explain(ctx: RunContext, a: AccountArgs) -> list[dict[str, Any]]:
    return desk(ctx).explain(ctx.user, a.account, conversation_id=ctx.conversation_id)


def _ring(ctx: RunContext, a: RingArgs) -> dict[str, Any]:
    return desk(ctx).ring(ctx.user, a.account, limit=a.limit, conversation_id=ctx.conversation_id)


def _propose(ctx: RunContext, a: ProposeArgs) -> dict[str, Any]:
    params = a.model_dump(exclude_unset=True, exclude={"kind", "account", "reason"})
    return desk(ctx).propose(
        ctx.user,
        a.kind,
        a.account,
        params=params,
        reason=a.reason,
        conversation_id=ctx.conversation_id,
    )


FRAUD_ACCOUNT: Tool[AccountArgs, dict[str, Any]] = Tool(
    name="fraud_account",
    operation="fraud.read",
    summary_zh="查詢帳戶資料（銀行、開戶日、狀態）",
    summary_en="Look up an account (bank, opened, status)",
    args=AccountArgs,
    run=_account,
    describe=lambda o: f"{o.get('bank_code', '')} {o.get('status', '')}".strip() or o["id"],
)
FRAUD_TRACE: Tool[TraceArgs, TraceResult] = Tool(
    name="fraud_trace",
    operation="fraud.read",
    summary_zh="追查帳戶金流（上游或下游，逐層依時間順序）",
    summary_en="Trace an account's money flow, upstream or downstream, hop by hop in time order",
    args=TraceArgs,
    run=_trace,
    describe=lambda o: (
        f"{len(o.accounts)} accounts, {len(o.transfers)} transfers, {o.elapsed_ms:.1f} ms"
    ),
)
FRAUD_SCORE: Tool[ScoreArgs, dict[str, Any]] = Tool(
    name="fraud_score",
    operation="fraud.read",
    summary_zh="評估帳戶的人頭／水房風險分數",
    summary_en="Score an account's mule risk",
    args=ScoreArgs,
    run=_score,
    describe=lambda o: f"score {o.get('score')}",
)
FRAUD_EXPLAIN: Tool[AccountArgs, list[dict[str, Any]]] = Tool(
    name="fraud_explain",
    operation="fraud.read",
    summary_zh="說明風險分數的主要原因",
    summary_en="Explain what drove an account's risk score",
    args=AccountArgs,
    run=_explain,
    describe=lambda o: ", ".join(x["feature"] for x in o),
)
FRAUD_RING: Tool[RingArgs, dict[str, Any]] = Tool(
    name="fraud_ring",
    operation="fraud.read",
    summary_zh="找出與帳戶同一洗錢模式的同夥帳戶（排序並附理由與關聯交易）",
    summary_en="Find the other accounts of an account's laundering ring, ranked, with reasons",
    args=RingArgs,
    run=_ring,
    describe=lambda o: f"{len(o['members'])} of {o['considered']} accounts",
)
FRAUD_TOP: Tool[TopArgs, dict[str, Any]] = Tool(
    name="fraud_top",
    operation="fraud.read",
    summary_zh="列出帳務中人頭／水房風險分數最高的帳戶",
    summary_en="List the ledger's accounts with the highest mule scores",
    args=TopArgs,
    run=_top,
    describe=lambda o: f"{len(o['accounts'])} accounts",
)
FRAUD_ALERT: Tool[AlertArgs, dict[str, Any]] = Tool(
    name="fraud_alert",
    operation="fraud.read",
    summary_zh="查詢即時監控的一筆警示（帳戶、交易、理由）",
    summary_en="Look up one of the transfer monitor's alerts (account, transfer, reasons)",
    args=AlertArgs,
    run=_alert,
    describe=lambda o: f"#{o['id']} {o['account']} {o['status']}",
)
FRAUD_PROPOSE: Tool[ProposeArgs, dict[str, Any]] = Tool(
    name="fraud_propose",
    operation="fraud.propose",
    summary_zh="提出標記帳戶或匯出證據的建議（須由調查人員確認）",
    summary_en="Propose flagging an account or exporting evidence (an investigator decides)",
    args=ProposeArgs,
    run=_propose,
    describe=lambda o: f"#{o['id']} {o['kind']} {o['status']}",
    unshown=frozenset({"reason"}),
)
TOOLS = (
    FRAUD_ACCOUNT,
    FRAUD_TRACE,
    FRAUD_SCORE,
    FRAUD_EXPLAIN,
    FRAUD_RING,
    FRAUD_TOP,
    FRAUD_ALERT,
    FRAUD_PROPOSE,
)
