"""The credit agent's tools: each a :class:`~assistant.desks.credit.CreditDesk` method called
with the run's user and conversation, as a typed :class:`~agents.tools.Tool` through :func:`agents.toolcall.call_tool` (timed, kept for
the audit trail, a refusal stated instead of a crash). Nothing here reaches the credit service or
the audit log directly: the desk checks the role and writes the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.context import RunContext
from agents.credit.state import CreditState
from agents.deps import AgentDeps
from agents.interrupts import ReviewDecision
from agents.toolcall import call_tool
from agents.tools import Tool, ToolArgs
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.credit.crosscheck import CrossCheck
    from assistant.credit.ratios import RatioReport
    from assistant.credit.service import MemoDraft
    from assistant.credit.statements import Extraction
    from assistant.desks.credit import CreditDesk


# What the turn records of a call is the report's file name (and a memo's terms); the path and
# the objects read in earlier steps are handed on without being recorded.
class ExtractArgs(ToolArgs):
    file: str
    path: Path


class RatiosArgs(ToolArgs):
    file: str
    extraction: Any


class ScoreArgs(ToolArgs):
    file: str
    extraction: Any
    report: Any


class CrossCheckArgs(ToolArgs):
    file: str
    others: str  # the other reports' file names, as recorded
    paths: list[Path]
    extraction: Any


class MemoArgs(ToolArgs):
    file: str
    path: Path
    facility: Any
    extraction: Any
    terms: str = ""


def _desk(ctx: RunContext) -> CreditDesk:
    desk = ctx.services.credit_desk
    if desk is None:
        raise AssistantError("徵信服務未啟用 / the credit service is not configured")
    return desk


def _extract(ctx: RunContext, a: ExtractArgs) -> Extraction:
    return _desk(ctx).extract(ctx.user, a.path, conversation_id=ctx.conversation_id)


def _ratios(ctx: RunContext, a: RatiosArgs) -> RatioReport:
    return _desk(ctx).ratios(ctx.user, a.extraction, conversation_id=ctx.conversation_id)


def _score(ctx: RunContext, a: ScoreArgs) -> dict[str, Any]:
    return _desk(ctx).score_statements(
        ctx.user, a.extraction, a.report, conversation_id=ctx.conversation_id
    )


def _cross_check(ctx: RunContext, a: CrossCheckArgs) -> CrossCheck:
    """The report against the conversation's other reports: those are the reports loaded
    together. One that cannot be read is left out with its reason; the others are compared."""
    from assistant.credit.pdftext import StatementError

    desk = _desk(ctx)
    loaded = [a.extraction]
    unread = []
    for path in a.paths:
        try:
            loaded.append(desk.extract(ctx.user, path, conversation_id=ctx.conversation_id))
        except StatementError as exc:
            unread.append(f"{path.name}：無法讀取，未比對 / unreadable, not compared: {exc}")
    check = desk.cross_check(ctx.user, loaded, conversation_id=ctx.conversation_id)
    check.not_compared += unread
    return check


def _memo(ctx: RunContext, a: MemoArgs) -> MemoDraft:
    # the extraction is handed on, so the 3-second read is not done twice
    return _desk(ctx).draft(
        ctx.user, a.path, a.facility, extraction=a.extraction, conversation_id=ctx.conversation_id
    )


CREDIT_EXTRACT: Tool[ExtractArgs, Extraction] = Tool(
    name="credit_extract",
    operation="credit.read",
    summary_zh="擷取財報的資產負債表、綜合損益表與現金流量表",
    summary_en="extract the statements of a financial report",
    args=ExtractArgs,
    run=_extract,
    describe=lambda o: (
        f"{o.company or '-'}; {len(o.items)} items; "
        f"periods {', '.join(str(p) for p in o.periods)}; "
        f"pages {', '.join(str(p) for i in o.statements.values() for p in i.pages)}"
    ),
    unshown=frozenset({"path"}),
)
CREDIT_RATIOS: Tool[RatiosArgs, RatioReport] = Tool(
    name="credit_ratios",
    operation="credit.read",
    summary_zh="計算財務比率與其來源",
    summary_en="compute the ratios with their sources",
    args=RatiosArgs,
    run=_ratios,
    describe=lambda o: f"{sum(1 for r in o.ratios if r.values and r.values[0] is not None)} ratios",
    unshown=frozenset({"extraction"}),
)
CREDIT_SCORE: Tool[ScoreArgs, dict[str, Any]] = Tool(
    name="credit_score",
    operation="credit.read",
    summary_zh="以違約機率模型評分借款戶",
    summary_en="score the borrower with the PD model",
    args=ScoreArgs,
    run=_score,
    describe=lambda o: f"PD {o['pd']:.4f}",
    unshown=frozenset({"extraction", "report"}),
)
CREDIT_CROSS_CHECK: Tool[CrossCheckArgs, CrossCheck] = Tool(
    name="credit_cross_check",
    operation="credit.read",
    summary_zh="與本對話其他財報核對同日數字",
    summary_en="check the figures of shared dates against the conversation's other reports",
    args=CrossCheckArgs,
    run=_cross_check,
    describe=lambda o: f"{o.compared} compared; {len(o.disagreements)} disagree",
    unshown=frozenset({"paths", "extraction"}),
)
CREDIT_MEMO: Tool[MemoArgs, MemoDraft] = Tool(
    name="credit_memo",
    operation="credit.draft",
    summary_zh="撰寫 5P 徵信報告草稿，待人覆核",
    summary_en="draft the 5P credit memo for a person's review",
    args=MemoArgs,
    run=_memo,
    describe=lambda o: f"draft #{o.id}; {len(o.flags)} flags; {len(o.rules)} rules; {o.docx_path}",
    unshown=frozenset({"path", "facility", "extraction"}),
)
TOOLS = (CREDIT_EXTRACT, CREDIT_CROSS_CHECK, CREDIT_RATIOS, CREDIT_SCORE, CREDIT_MEMO)


# The ratios the summary shows; the memo has them all.
KEY_RATIOS = (
    "current_ratio",
    "quick_ratio",
    "debt_ratio",
    "debt_to_equity",
    "interest_coverage",
    "net_margin",
    "roe",
    "ocf_to_current_liabilities",
)


def _read_report(
    state: CreditState,
    ctx: RunContext,
    deps: AgentDeps,
    calls: list[dict[str, Any]],
    problems: list[str],
) -> tuple[Path, Any, Any, Any] | None:
    """The report extracted, checked against the conversation's other reports and its ratios
    computed: ``(pdf, extraction, cross check or None, ratios)``, or None when a step was
    refused or failed (the reason is in ``problems``)."""
    # Every tool is a desk method called with the run's user: the desk checks the role and
    # writes the audit record (the file by its sha256, the draft by its id).
    t = deps.telemetry
    pdf = Path(state["report"] or "")
    x = call_tool(t, ctx, CREDIT_EXTRACT, {"file": pdf.name, "path": pdf}, calls, problems)
    if x is None:
        return None
    # The conversation's other reports are the ones loaded with this one: figures of the dates
    # they share must agree, and those that do not are flagged before any ratio is computed.
    others = [Path(o) for o in dict.fromkeys(state.get("attachments") or []) if Path(o) != pdf]
    cross = None
    if others:
        cross = call_tool(
            t,
            ctx,
            CREDIT_CROSS_CHECK,
            {
                "file": pdf.name,
                "others": ", ".join(o.name for o in others),
                "paths": others,
                "extraction": x,
            },
            calls,
            problems,
        )
    report = call_tool(t, ctx, CREDIT_RATIOS, {"file": pdf.name, "extraction": x}, calls, problems)
    if report is None:
        return None
    return pdf, x, cross, report


def _key_ratios(report: Any) -> dict[str, dict[str, Any]]:
    return {
        r.name: {
            "zh": r.zh,
            "en": r.en,
            "kind": r.kind,
            "value": r.values[0] if r.values else None,
            "pages": sorted({s["page"] for s in r.sources.values()}),
        }
        for name in KEY_RATIOS
        for r in report.ratios
        if r.name == name
    }


def figures_from_report(
    state: CreditState,
    ctx: RunContext,
    deps: AgentDeps,
    calls: list[dict[str, Any]],
    problems: list[str],
) -> dict[str, Any]:
    """The report read and its key ratios computed, with their pages; no draft (none was
    asked for, so nothing waits for a review)."""
    read = _read_report(state, ctx, deps, calls, problems)
    if read is None:
        return {}
    pdf, x, cross, report = read
    return {
        "figures": {
            "file": pdf.name,
            "company": x.company,
            "period": report.period_labels[0] if report.period_labels else "—",
            "interim": x.interim,
            "cross_check": cross.to_dict() if cross is not None else None,
            "ratios": _key_ratios(report),
        }
    }


def draft_from_report(
    state: CreditState,
    ctx: RunContext,
    deps: AgentDeps,
    calls: list[dict[str, Any]],
    problems: list[str],
) -> dict[str, Any]:
    """Extract, ratios, the PD when a model is trained, and the draft: the draft's facts for
    the review, or ``{}`` when a step was refused or failed (the reason is in ``problems``)."""
    from assistant.credit.rules import Facility

    read = _read_report(state, ctx, deps, calls, problems)
    if read is None:
        return {}
    pdf, x, cross, report = read
    t = deps.telemetry
    pd_score = None
    if deps.credit_desk is not None and deps.credit_desk.pd_model_ready():
        # Only when a PD model was trained on columns that a company's statements have
        # (schema items and ratio names); a model of card holders cannot score a company.
        pd_score = call_tool(
            t,
            ctx,
            CREDIT_SCORE,
            {"file": pdf.name, "extraction": x, "report": report},
            calls,
            problems,
        )
    facility = Facility.from_dict(state["request"]["facility"])
    terms = "; ".join(f"{k}={v}" for k, v in facility.to_dict().items() if v)
    draft = call_tool(
        t,
        ctx,
        CREDIT_MEMO,
        {"file": pdf.name, "path": pdf, "facility": facility, "extraction": x, "terms": terms},
        calls,
        problems,
    )
    if draft is None:
        return {}
    ratios = _key_ratios(report)
    info = {
        "id": draft.id,
        "company": draft.company,
        "file": pdf.name,
        "period": report.period_labels[0] if report.period_labels else "—",
        "year_to_date": x.period_info[0].ytd_label if x.period_info else None,
        "quarter": x.period_info[0].quarter_label if x.period_info else None,
        "interim": x.interim,
        "cross_check": cross.to_dict() if cross is not None else None,
        "docx": str(draft.docx_path) if draft.docx_path else None,
        "markdown": draft.markdown,
        "facility": facility.to_dict(),
        "flags": [f.text for f in draft.flags],
        "rules": [
            {
                "label": a.rule.label,
                "law": a.rule.law,
                "article": a.rule.article,
                "reason": a.reason,
                "text": a.source.text,
                "amended": a.source.amended,
                "url": a.source.url,
            }
            for a in draft.rules
        ],
        "ratios": ratios,
        "pd": pd_score,
    }
    return {"draft": info}


def decide(
    memo_id: int, decision: ReviewDecision, ctx: RunContext, deps: AgentDeps
) -> dict[str, Any]:
    """Carry out a reviewer's decision through the desk; what came of it, for the answer."""
    # The desk checks that who resumed may decide and records the decision; the checker's
    # name comes with the decision so that a replay on resume decides as the same person.
    done = deps.credit_desk.decide(
        ctx.user,
        memo_id,
        decision.action,
        markdown=decision.markdown,
        note=decision.note,
        conversation_id=ctx.conversation_id,
        checker=decision.user or None,
    )
    d = done.decision
    return {
        "action": decision.action,
        "status": d.status,
        "checker": d.checker,
        "maker": d.maker,
        "edited": d.edited,
        "note": d.note,
        "decided_at": d.decided_at.isoformat(timespec="seconds"),
        "final_file": str(done.final_file) if done.final_file else None,
        "audit_id": done.audit_id,
    }
