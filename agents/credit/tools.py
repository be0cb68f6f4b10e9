"""The credit agent's tools: each a :class:`~assistant.desks.credit.CreditDesk` method called
with the run's user and conversation, through :func:`agents.toolcall.call_tool` (timed, kept for
the audit trail, a refusal stated instead of a crash). Nothing here reaches the credit service or
the audit log directly: the desk checks the role and writes the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.context import RunContext
from agents.credit.state import CreditState
from agents.deps import AgentDeps
from agents.interrupts import ReviewDecision
from agents.toolcall import call_named_tool

# The agent's tools and the desk operation each performs (the spec declares the same pairs).
NAMED_TOOLS: tuple[tuple[str, str], ...] = (
    ("search_regulations", "compliance.search"),
    ("credit_extract", "credit.read"),
    ("credit_ratios", "credit.read"),
    ("credit_score", "credit.read"),
    ("credit_memo", "credit.draft"),
)
_OPERATION = dict(NAMED_TOOLS)


def call_tool(
    t: Any,
    user: Any,
    calls: list[dict[str, Any]],
    problems: list[str],
    name: str,
    args: dict[str, Any],
    fn: Any,
    summarise: Any,
) -> Any:
    return call_named_tool(t, user, calls, problems, name, _OPERATION[name], args, fn, summarise)


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

    # Every tool is a desk method called with the run's user: the desk checks the role and
    # writes the audit record (the file by its sha256, the draft by its id).
    desk = deps.credit_desk
    t = deps.telemetry
    user, conv = ctx.user, ctx.conversation_id
    pdf = Path(state["report"] or "")
    x = call_tool(
        t,
        user,
        calls,
        problems,
        "credit_extract",
        {"file": pdf.name},
        lambda a: desk.extract(user, pdf, conversation_id=conv),
        lambda o: (
            f"{o.company or '-'}; {len(o.items)} items; "
            f"periods {', '.join(str(p) for p in o.periods)}; "
            f"pages {', '.join(str(p) for i in o.statements.values() for p in i.pages)}"
        ),
    )
    if x is None:
        return {}
    report = call_tool(
        t,
        user,
        calls,
        problems,
        "credit_ratios",
        {"file": pdf.name},
        lambda a: desk.ratios(user, x, conversation_id=conv),
        lambda o: f"{sum(1 for r in o.ratios if r.values and r.values[0] is not None)} ratios",
    )
    if report is None:
        return {}
    pd_score = None
    if desk.pd_model_ready():
        # Only when a PD model was trained on columns that a company's statements have
        # (schema items and ratio names); a model of card holders cannot score a company.
        pd_score = call_tool(
            t,
            user,
            calls,
            problems,
            "credit_score",
            {"file": pdf.name},
            lambda a: desk.score_statements(user, x, report, conversation_id=conv),
            lambda o: f"PD {o['pd']:.4f}",
        )
    facility = Facility.from_dict(state["request"]["facility"])
    draft = call_tool(
        t,
        user,
        calls,
        problems,
        "credit_memo",
        {"file": pdf.name, **{k: v for k, v in facility.to_dict().items() if v}},
        # the extraction is handed on, so the 3-second read is not done twice
        lambda a: desk.draft(user, pdf, facility, extraction=x, conversation_id=conv),
        lambda o: f"draft #{o.id}; {len(o.flags)} flags; {len(o.rules)} rules; {o.docx_path}",
    )
    if draft is None:
        return {}
    ratios = {
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
    info = {
        "id": draft.id,
        "company": draft.company,
        "file": pdf.name,
        "period": report.periods[0] if report.periods else "—",
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
