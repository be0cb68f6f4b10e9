"""The credit agent: understand → work (extract, ratios, draft) → review (a person) → compose.

Only roles with the credit agent reach it (the route node checks the role in code). Every figure
comes from the credit service: the statements are read from the uploaded PDF, ratios are
computed in code with the page of each input, and the 5P memo is drafted with the lending rules
chosen in code and quoted from the knowledge base. Nothing is final until a person decides:
after drafting, the ``review`` node pauses the graph with ``interrupt`` (maker-checker); the
analyst approves, approves an edited text or rejects with a note, and the run resumes with
``Command(resume=decision)``. The decision goes to the audit trail as ``credit.approve`` /
``credit.reject``; the turn itself is audited by the top graph's audit node as usual.

A question about the lending rules without a report to work on (「利害關係人授信有什麼限制？」)
is answered from the regulations, as the compliance agent would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.compliance.compose import compose_without_model, key_terms
from agents.compliance.tools import search_regulations
from agents.context import RunContext
from agents.credit.parse import parse_request
from agents.credit.state import CreditInput, CreditOutput, CreditState
from agents.deps import AgentDeps
from agents.registry import AgentSpec
from agents.steps import composed_result, emit, node_span
from agents.toolcall import call_named_tool as call_tool
from assistant.credit.scoring import model_path
from assistant.errors import AssistantError
from knowledge.analyzer import is_mostly_english

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
ACTIONS = ("approve", "edit", "reject")
ACTION_ZH = {"approve": "核准", "edit": "修改後核准", "reject": "退回"}
PENDING_ZH = "待覆核"
NEED_REPORT = (
    "請先上傳公司財報 PDF（公開資訊觀測站 IFRS 財務報告），再提出徵信分析需求，例如「幫我做徵信分析"
    "草稿，申請額度 5000 萬，短期營運週轉金，一年期，無擔保」。/ Please upload the company's "
    "financial report (MOPS IFRS PDF) with the question first."
)
READ_FAILED = "財報無法擷取，未製作草稿 / the report could not be read: nothing was drafted."


def build(deps: AgentDeps) -> Any:
    t = deps.telemetry

    def understand(state: CreditState) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        with node_span(t, "credit.understand", steps) as note:
            req = parse_request(state["question"])
            attached = state.get("attachment")
            earlier = state.get("attachments") or []
            # This turn's upload, else the conversation's last one: 「用剛剛那份報表再算一次」.
            report = attached or (earlier[-1] if earlier else None)
            if attached:
                mode = "draft"
            elif req.about_rules and not (report and req.wants_work):
                mode = "rules"
            elif req.wants_work:
                mode = "draft" if report else "need_report"
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
            "pending": None,
            "decision": None,
            "hits": [],
            "problems": list(req.problems),
            "tool_calls": [],
            "steps": steps,
        }

    def work(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        calls: list[dict[str, Any]] = []
        problems = list(state.get("problems", []))
        out: dict[str, Any] = {}
        with node_span(t, "credit.work", steps) as note:
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
            elif deps.credit is None:
                problems.append("徵信服務未啟用 / the credit service is not configured")
            else:
                out = _draft(state, runtime.context, calls, problems)
                note(f"draft #{out['draft']['id']}" if out.get("draft") else "not drafted")
        return {**out, "problems": problems, "tool_calls": calls, "steps": steps}

    def _draft(
        state: CreditState, ctx: RunContext, calls: list[dict[str, Any]], problems: list[str]
    ) -> dict[str, Any]:
        from assistant.credit.ratios import compute
        from assistant.credit.rules import Facility
        from assistant.credit.statements import extract

        svc = deps.credit
        pdf = Path(state["report"] or "")
        x = call_tool(
            t,
            ctx.user,
            calls,
            problems,
            "credit_extract",
            {"file": pdf.name},
            lambda a: extract(pdf),
            lambda o: (
                f"{o.company or '-'}; {len(o.items)} items; periods {', '.join(str(p) for p in o.periods)}; "
                f"pages {', '.join(str(p) for i in o.statements.values() for p in i.pages)}"
            ),
        )
        if x is None:
            return {}
        report = call_tool(
            t,
            ctx.user,
            calls,
            problems,
            "credit_ratios",
            {"file": pdf.name},
            lambda a: compute(x),
            lambda o: f"{sum(1 for r in o.ratios if r.values and r.values[0] is not None)} ratios",
        )
        if report is None:
            return {}
        pd_score = None
        pd_file = model_path(svc.data_dir)
        if pd_file.is_file():
            # Only when a PD model was trained on columns that a company's statements have
            # (schema items and ratio names); a model of card holders cannot score a company.
            pd_score = call_tool(
                t,
                ctx.user,
                calls,
                problems,
                "credit_score",
                {"file": pdf.name, "model": pd_file.name},
                lambda a: _pd(pd_file, x, report),
                lambda o: f"PD {o['pd']:.4f}",
            )
        facility = Facility.from_dict(state["request"]["facility"])
        draft = call_tool(
            t,
            ctx.user,
            calls,
            problems,
            "credit_memo",
            {"file": pdf.name, **{k: v for k, v in facility.to_dict().items() if v}},
            # the extraction is handed on, so the 3-second read is not done twice
            lambda a: svc.draft(pdf, facility, user=ctx.user.name, extraction=x),
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

    def review(state: CreditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        draft = state["draft"] or {}
        summary = _summary(draft)
        result = _result(
            f"{summary}\n\n⏳ {PENDING_ZH}：{_how_to_decide(draft['id'])}",
            state,
            draft,
            steps,
        )
        payload: dict[str, Any] = {
            "kind": "credit_review",
            "draft_id": draft["id"],
            "summary": summary,
            "docx": draft.get("docx"),
            "markdown": draft.get("markdown", ""),
            "actions": list(ACTIONS),
            "error": None,
            # what the service answers with while the review waits
            "result": result,
        }
        outcome: dict[str, Any] | None = None
        # A decision the credit service refuses (four eyes: the maker may not approve their own
        # draft) asks again, with the reason; on resume the refused decisions replay and are
        # refused again in the same order, so each interrupt gets its own answer back.
        while outcome is None:
            decision = interrupt(payload)
            try:
                outcome = _decide(draft["id"], decision, runtime.context)
            except AssistantError as exc:
                status = _status(draft["id"])
                if status != "draft":  # decided elsewhere (the CLI): nothing left to review
                    outcome = {
                        "error": str(exc),
                        "status": status,
                        "action": decision.get("action"),
                    }
                    break
                payload = {**payload, "error": str(exc)}
        with node_span(t, "credit.review", steps) as note:
            note(f"{outcome.get('action')} → {outcome.get('status')}")
        return {"decision": outcome, "steps": steps}

    def _status(memo_id: int) -> str:
        try:
            return deps.credit.get(memo_id).status
        except AssistantError:
            return "missing"

    def _decide(memo_id: int, decision: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        svc = deps.credit
        action = decision.get("action")
        # The checker is who resumed the run (the service checked their role); the name comes
        # with the decision so that a replay on resume decides as the same person.
        checker = decision.get("user") or ctx.user.name
        note = (decision.get("note") or "").strip()
        if action == "approve":
            d = svc.approve(memo_id, checker, note=note)
        elif action == "edit":
            d = svc.approve(memo_id, checker, edited_markdown=decision.get("markdown"), note=note)
        elif action == "reject":
            d = svc.reject(memo_id, checker, note)
        else:
            raise AssistantError(f"不明的覆核動作 / unknown review action: {action!r}")
        final_path = None
        if d.final_markdown is not None:
            final_path = svc.memo_dir / f"credit-memo-{memo_id}-final.md"
            final_path.parent.mkdir(parents=True, exist_ok=True)
            final_path.write_text(d.final_markdown, encoding="utf-8")
        args = {**d.audit_args(), "final_markdown": d.final_markdown, "action": action}
        audit_id = deps.audit.record_action(
            ctx.user,
            conversation_id=ctx.conversation_id,
            action=f"credit.{d.action}",
            args=args,
            outcome=d.status,
            agent="credit",
        )
        return {
            "action": action,
            "status": d.status,
            "checker": d.checker,
            "maker": d.maker,
            "edited": d.edited,
            "note": d.note,
            "decided_at": d.decided_at.isoformat(timespec="seconds"),
            "final_file": str(final_path) if final_path else None,
            "audit_id": audit_id,
        }

    def compose(state: CreditState) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        question = state["question"]
        hits = state.get("hits") or []
        draft = state.get("draft")
        cited: list[dict[str, Any]] = []
        with node_span(t, "credit.compose", steps) as note:
            if hits:
                cited = hits[: deps.settings.cite_k]
                terms = key_terms(deps.retriever, question)
                answer = compose_without_model(
                    deps.analyzer, terms, cited, is_mostly_english(question)
                )
            elif state.get("mode") == "need_report":
                answer = NEED_REPORT
            elif draft and state.get("decision"):
                answer = _decided(draft, state["decision"])
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

    g = StateGraph(
        CreditState,
        context_schema=RunContext,
        input_schema=CreditInput,
        output_schema=CreditOutput,
    )
    g.add_node("understand", understand)
    g.add_node("work", work)
    g.add_node("review", review)
    g.add_node("compose", compose)
    g.add_edge(START, "understand")
    g.add_edge("understand", "work")
    g.add_conditional_edges("work", after_work, ["review", "compose"])
    g.add_edge("review", "compose")
    g.add_edge("compose", END)
    return g.compile()


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


def _fmt(value: float | None, kind: str) -> str:
    from assistant.credit.memo import fmt_value

    return fmt_value(value, kind)


def _summary(draft: dict[str, Any]) -> str:
    """What the analyst reads before deciding: the facts, the key ratios with their pages,
    the flags, the rules cited and where the DOCX is. Figures as the memo prints them."""
    from assistant.credit.memo import UNIT_ZH
    from assistant.credit.rules import FACILITY_TYPES

    f = draft["facility"]
    amount = f"新臺幣 {int(float(f['amount'])):,} 元" if f.get("amount") else "未提供 not given"
    tenor = f"{f['tenor_months']} 個月" if f.get("tenor_months") else "未提供 not given"
    lines = [
        "以下依財報計算（非語言模型生成）/ computed from the statements, not by a model:",
        f"徵信報告草稿 #{draft['id']}：{draft.get('company') or draft['file']}"
        f"（{draft['file']}，本期 {draft['period']}）",
        f"• 授信條件 facility：{FACILITY_TYPES[f['facility_type']]}；金額 {amount}；期限 {tenor}；"
        f"用途 {f.get('purpose') or '未提供'}；擔保 {f.get('collateral') or '無擔保 unsecured'}；"
        f"保證人 {'、'.join(f.get('guarantors') or []) or '無'}；"
        f"利害關係人 {'是' if f.get('related_party') else '否'}",
        "",
        "| 比率 ratio | 本期 current | 單位 unit | 頁次 pages |",
        "|---|---|---|---|",
    ]
    for r in draft["ratios"].values():
        pages = ", ".join(str(p) for p in r["pages"]) or "—"
        lines.append(
            f"| {r['zh']} {r['en']} | {_fmt(r['value'], r['kind'])} | {UNIT_ZH[r['kind']]} | "
            f"{pages} |"
        )
    lines.append("")
    if draft["flags"]:
        lines.append("• 警示 flags：")
        lines += [f"  – {x}" for x in draft["flags"]]
    else:
        lines.append("• 警示 flags：無 none")
    if draft["rules"]:
        lines.append("• 適用法規 lending rules（依授信條件於程式中判定）：")
        for r in draft["rules"]:
            where = "" if r["text"] is not None else "（知識庫未收錄 / not in the knowledge base）"
            lines.append(f"  – 〔{r['law']}第{r['article']}條〕{r['reason']}{where}")
    pd = draft.get("pd")
    if pd:
        lines.append(f"• 違約機率 probability of default：{pd['pd']:.2%}（模型計算 model）")
        lines += [f"  – {r['zh']}" for r in pd.get("reasons", [])]
    lines.append(f"• 草稿 DOCX：{draft.get('docx') or '—'}")
    return "\n".join(lines)


def _how_to_decide(memo_id: int) -> str:
    return (
        f"請覆核草稿 #{memo_id}：核准、修改後核准或退回（介面「覆核」區，或 "
        f"assistant review CONVERSATION --approve|--edit FILE.md|--reject --note 理由）。"
        f" / Awaiting review: approve, approve with edits, or reject with a note."
    )


def _decided(draft: dict[str, Any], d: dict[str, Any]) -> str:
    memo_id = draft["id"]
    if d.get("error"):
        return f"草稿 #{memo_id} 未在此覆核：{d['error']}（目前狀態 status {d.get('status')}）"
    who = f"覆核人 checker {d['checker']}，製作人 maker {d['maker']}，{d['decided_at']}"
    if d["status"] == "approved":
        edited = "（採用修改後內容 / the edited text is final）" if d["edited"] else ""
        lines = [
            f"✅ 徵信報告草稿 #{memo_id} 已核准 approved{edited}（{who}）。",
            f"• 定稿 final text：{d['final_file']}（亦存於 credit_memo 資料表 / also in the "
            f"credit_memo table：assistant credit drafts）",
            f"• 原草稿 DOCX draft：{draft.get('docx') or '—'}",
        ]
    else:
        lines = [
            f"↩ 徵信報告草稿 #{memo_id} 已退回 rejected（{who}）。",
            "• 無定稿；草稿保留於 credit_memo 資料表 / no final text; the draft stays on record",
        ]
    if d.get("note"):
        lines.append(f"• 覆核意見 note：{d['note']}")
    lines.append(
        f"• 稽核紀錄 audit record #{d['audit_id']}（credit.{'approve' if d['status'] == 'approved' else 'reject'}）"
    )
    return "\n".join(lines)


SPEC = AgentSpec(
    name="credit",
    title_zh="徵信助理",
    title_en="Credit analysis",
    # Words of a credit analyst's work on a borrower, not of the rules about lending: a plain
    # 「銀行對利害關係人辦理無擔保授信有什麼限制？」 stays the compliance agent's (every role).
    keywords=(
        "徵信",
        "財報",
        "財務報表",
        "報表",
        "申請額度",
        "週轉金",
        "授信案",
        "授信申請",
        "5P",
        "credit memo",
        "financial statements",
        "financial report",
    ),
    examples=(
        "幫我做徵信分析草稿，申請額度 5000 萬，短期營運週轉金，一年期，無擔保",
        "用剛剛那份報表再算一次",
        "Draft a credit memo from this financial report, NT$50 million working capital",
    ),
    # Still a closure over its dependencies, its tools known by name (until it moves to the
    # module-level shape with Tool objects).
    build_with_deps=build,
    named_tools=(
        ("search_regulations", "compliance.search"),
        ("credit_extract", "credit.read"),
        ("credit_ratios", "credit.read"),
        ("credit_score", "credit.read"),
        ("credit_memo", "credit.draft"),
    ),
)
