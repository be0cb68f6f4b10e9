"""The credit agent's nodes: module-level functions of ``(state, runtime)``.

Each reads the shared dependencies (``AgentDeps``: the desk, the retriever, telemetry) from the
run-time context, ``runtime.context.deps``, so the compiled graph holds no services and a node
can be tested with a context of its own. Nothing is final until a person decides: after
drafting, :func:`review` pauses the graph with the credit review contract's interrupt
(maker-checker) and the run resumes with the checked decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.compliance.compose import compose_without_model, key_terms
from agents.compliance.tools import search_regulations
from agents.context import RunContext, deps_of
from agents.credit.parse import parse_request
from agents.credit.prompts import (
    NEED_REPORT,
    PENDING_ZH,
    READ_FAILED,
    decided,
    figures_summary,
    how_to_decide,
    summary,
)
from agents.credit.state import CREDIT_REVIEW, CreditState
from agents.credit.tools import decide, draft_from_report, figures_from_report
from agents.steps import composed_result, emit, node_span
from assistant.errors import AssistantError
from knowledge.analyzer import is_mostly_english


def understand(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    steps = list(state.get("steps", []))
    with node_span(deps_of(runtime).telemetry, "credit.understand", steps) as note:
        req = parse_request(state["question"])
        attached = state.get("attachment")
        earlier = state.get("attachments") or []
        # This turn's upload, else the conversation's last one: 「用剛剛那份報表再算一次」.
        report = attached or (earlier[-1] if earlier else None)
        # The memo is drafted (and the turn held for review) only when asked for: a report's
        # figures asked about are read and computed, and nothing is drafted.
        work = "draft" if req.wants_memo else "figures"
        if attached:
            mode = work
        elif req.about_rules and not (report and req.wants_work):
            mode = "rules"
        elif req.wants_work:
            mode = work if report else "need_report"
        else:
            mode = "rules"
        note(f"{mode}; report {Path(report).name if report else '-'}")
    return {
        "request": {
            "facility": req.facility,
            "wants_work": req.wants_work,
            "about_rules": req.about_rules,
        },
        "mode": mode,
        "report": report,
        "draft": None,
        "figures": None,
        "pending": None,
        "decision": None,
        "hits": [],
        "problems": list(req.problems),
        "tool_calls": [],
        "steps": steps,
    }


def work(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    steps = list(state.get("steps", []))
    calls: list[dict[str, Any]] = []
    problems = list(state.get("problems", []))
    out: dict[str, Any] = {}
    with node_span(deps.telemetry, "credit.work", steps) as note:
        mode = state["mode"]
        if mode == "rules":
            hits, call = search_regulations(
                deps.compliance, runtime.context.user, state["question"], deps.settings.top_k
            )
            calls.append(call)
            out["hits"] = hits
            note(f"regulations: {len(hits)} articles")
        elif mode == "need_report":
            note("no report")
        elif deps.credit_desk is None:
            problems.append("徵信服務未啟用 / the credit service is not configured")
        elif mode == "figures":
            out = figures_from_report(state, runtime.context, deps, calls, problems)
            note("figures" if out.get("figures") else "not read")
        else:
            out = draft_from_report(state, runtime.context, deps, calls, problems)
            note(f"draft #{out['draft']['id']}" if out.get("draft") else "not drafted")
    return {**out, "problems": problems, "tool_calls": calls, "steps": steps}


def review(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    ctx = runtime.context
    steps = list(state.get("steps", []))
    draft = state["draft"] or {}
    # What the request said that could not be taken (a negative amount, a tenor of 9999
    # months) stands above the draft, so the analyst sees why a term is "not given".
    said = "".join(f"⚠ {p}\n" for p in state.get("problems", []))
    shown = said + summary(draft)
    result = _result(
        f"{shown}\n\n⏳ {PENDING_ZH}：{how_to_decide(draft['id'])}", state, draft, steps
    )
    payload = CREDIT_REVIEW.payload(
        draft_id=draft["id"],
        summary=shown,
        docx=draft.get("docx"),
        markdown=draft.get("markdown", ""),
        # what the service answers with while the review waits
        result=result,
    )
    outcome: dict[str, Any] | None = None
    # A decision the desk refuses (four eyes: the maker may not approve their own draft) asks
    # again, with the reason; on resume the refused decisions replay and are refused again in
    # the same order, so each interrupt gets its own answer back.
    while outcome is None:
        decision = CREDIT_REVIEW.decision(interrupt(payload))
        try:
            outcome = decide(draft["id"], decision, ctx, deps)
        except AssistantError as exc:
            status = deps.credit_desk.status(ctx.user, draft["id"])
            if status != "draft":  # decided elsewhere (the CLI): nothing left to review
                outcome = {"error": str(exc), "status": status, "action": decision.action}
                break
            payload = {**payload, "error": str(exc)}
    with node_span(deps.telemetry, "credit.review", steps) as note:
        note(f"{outcome.get('action')} → {outcome.get('status')}")
    return {"decision": outcome, "steps": steps}


def compose(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    steps = list(state.get("steps", []))
    question = state["question"]
    hits = state.get("hits") or []
    draft = state.get("draft")
    cited: list[dict[str, Any]] = []
    with node_span(deps.telemetry, "credit.compose", steps) as note:
        if hits:
            cited = hits[: deps.settings.cite_k]
            terms = key_terms(deps.retriever, question)
            answer = compose_without_model(deps.analyzer, terms, cited, is_mostly_english(question))
        elif state.get("mode") == "need_report":
            answer = NEED_REPORT
        elif draft and state.get("decision"):
            answer = decided(draft, state["decision"])
        elif state.get("figures"):
            said = "".join(f"⚠ {p}\n" for p in state.get("problems", []))
            answer = said + figures_summary(state["figures"])
        else:
            lines = [READ_FAILED] if state.get("mode") == "draft" else []
            lines += [f"⚠ {p}" for p in state.get("problems", [])]
            answer = "\n".join(lines) or NEED_REPORT
        emit("token", answer)
        note("composed")
    if draft:
        result = _result(answer, state, draft, steps)
        result["data"]["credit"]["decision"] = state.get("decision")
    else:
        result = composed_result(answer, cited, state.get("tool_calls", []), steps)
    return {"result": result, "steps": steps}


def after_work(state: CreditState) -> str:
    return "review" if state.get("draft") else "compose"


def _result(
    answer: str, state: CreditState, draft: dict[str, Any], steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """The Result of a turn with a draft: the rules it cites (those the knowledge base holds)
    as citations, the tool calls, and the draft's facts for a UI panel."""
    seen: set[str] = set()
    citations = []
    for r in draft.get("rules", []):
        if r["text"] is None or r["label"] in seen:
            continue
        seen.add(r["label"])
        citations.append(
            {
                "law": r["law"],
                "article": r["article"],
                "label": f"{r['law']}第{r['article']}條",
                "chunk_id": f"{r['law']}#{r['article']}",
                "text": r["text"],
                "amended": r["amended"],
                "url": r["url"],
            }
        )
    shown = {k: v for k, v in draft.items() if k != "markdown"}
    return {
        "answer": answer,
        "citations": citations,
        "generated": False,
        "no_basis": False,
        "thinking": "",
        "tool_calls": state.get("tool_calls", []),
        "steps": steps,
        "chunks": [
            {"chunk_id": c["chunk_id"], "law": c["law"], "article": c["article"]} for c in citations
        ],
        "data": {"credit": shown},
    }
