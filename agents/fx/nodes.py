"""The FX agent's nodes: understand → compute (rate, convert, check) → compose.

Module-level functions of the state and the run's context (user, metered model, typed
dependencies). Every number comes from the FX desk through the agent's tools.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime

from agents.compliance.compose import (
    compose_without_model,
    excerpt,
    key_terms,
    model_excerpts,
)
from agents.compliance.prompts import context_block, question_block
from agents.compliance.tools import search_regulations
from agents.context import RunContext, deps_of
from agents.deps import AgentDeps
from agents.figures import agrees_with, only_figures_from
from agents.fx import prompts
from agents.fx.parse import FxRequest, parse_request
from agents.fx.state import FxState
from agents.fx.tools import FX_CARRY, FX_CHECK, FX_CONVERT, FX_RATE
from agents.promptguard import Fence
from agents.prose import write_over
from agents.steps import emit, node_span
from agents.toolcall import call_tool
from assistant.fx.rules import CUSTOMER_ZH
from assistant.llm.base import LLMError, Message
from knowledge.analyzer import is_mostly_english
from knowledge.errors import KnowledgeError


def understand(state: FxState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    t = deps_of(runtime).telemetry
    steps = list(state.get("steps", []))
    with node_span(t, "fx.understand", steps) as note:
        req = parse_request(state["question"], today=date.today())
        note(
            f"{req.customer} {req.side} {req.amount or '-'} {req.amount_currency or ''} {req.kind}"
        )
    return {"request": _plain(req), "steps": steps, "problems": list(req.errors)}


def compute(state: FxState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    s, t = deps.settings, deps.telemetry
    steps = list(state.get("steps", []))
    calls = list(state.get("tool_calls", []))
    problems = list(state.get("problems", []))
    req = _request(state["request"])
    user = runtime.context.user
    conversion = check = rate = carry = None
    hits: list[dict[str, Any]] = []
    with node_span(t, "fx.compute", steps) as note:
        if deps.fx is None:
            problems.append("外匯服務未啟用 / the FX service is not configured")
        elif req.carry and req.carried and not req.errors:
            # Cash across the border is customs' question: a settlement check here would
            # answer 「無須申報」 for USD 15,000 in notes that must be declared.
            amounts = [{"amount": a, "currency": c} for a, c in req.carried]
            args = {"amounts": amounts, "on": req.on}
            carry = call_tool(t, runtime.context, FX_CARRY, args, calls, problems)
        elif req.amount is not None and req.currency and not req.errors:
            ctx = runtime.context
            conversion = call_tool(t, ctx, FX_CONVERT, _convert_args(req), calls, problems)
            check = call_tool(t, ctx, FX_CHECK, _check_args(req), calls, problems)
        elif req.currency and req.asks_rate and not req.errors:
            args = {"currency": req.currency, "on": req.on, "kind": req.kind}
            rate = call_tool(t, runtime.context, FX_RATE, args, calls, problems)
        if not calls and not req.errors:
            # Nothing to compute: answer from the FX regulations' own wording.
            found, call = search_regulations(deps.compliance, user, state["question"], s.top_k)
            calls.append(call)
            hits = found
        note(f"{len(calls)} tool calls, {len(problems)} problems")
    return {
        "conversion": conversion.to_dict() if conversion is not None else None,
        "check": check.to_dict() if check is not None else None,
        "rate": rate.to_dict() if rate is not None else None,
        "carry": carry.to_dict() if carry is not None else None,
        "hits": hits,
        "problems": problems,
        "tool_calls": calls,
        "steps": steps,
    }


def compose(state: FxState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    s, t = deps.settings, deps.telemetry
    steps = list(state.get("steps", []))
    calls = list(state.get("tool_calls", []))
    question = state["question"]
    english = is_mostly_english(question)
    llm = runtime.context.llm
    result: dict[str, Any] = {"generated": False, "no_basis": False, "thinking": ""}
    with node_span(t, "fx.compose", steps) as note:
        check = state.get("check") or state.get("carry")
        hits = list(state.get("hits", []))
        if check:
            hits = _article_hits(deps, runtime, check["articles"], calls)
        facts = _facts(state, english)
        # The model explains articles; a rate or a conversion with no article under it is a
        # fact from the board, given as code wrote it (a model asked to explain it invents).
        if llm.available and hits:
            try:
                result.update(
                    _explain(
                        s,
                        llm,
                        question,
                        facts,
                        hits,
                        key_terms(deps.retriever, question),
                        deps.analyzer,
                        english,
                        runtime.context.fence,
                        duty=_duty(state),
                    )
                )
                note(f"by model {llm.name}")
            except LLMError as exc:
                result.update(answer=f"{facts}\n\n（{exc}）", citations=hits)
                emit("token", result["answer"])
                note(f"model failed: {exc}")
        else:
            terms = key_terms(deps.retriever, question)
            if check or state.get("conversion") or state.get("rate") or state.get("problems"):
                body = _articles_block(deps, terms, hits, english)
                answer = "\n\n".join(p for p in (facts, body) if p)
            elif hits:
                answer = compose_without_model(deps.analyzer, terms, hits[: s.cite_k], english)
            else:
                answer = prompts.NEED_AMOUNT_EN if english else prompts.NEED_AMOUNT_ZH
            result.update(answer=answer, citations=hits[: s.cite_k] if not check else hits)
            emit("token", answer)
            note("composed")
    result.update(
        tool_calls=calls,
        steps=steps,
        chunks=[{k: h.get(k) for k in ("chunk_id", "law", "article", "amended")} for h in hits],
    )
    return {"result": result, "steps": steps}


def _plain(req: FxRequest) -> dict[str, Any]:
    d = asdict(req)
    for key in ("amount", "ytd_usd"):
        d[key] = None if d[key] is None else str(d[key])
    d["on"] = req.on.isoformat() if req.on else None
    return d


def _request(d: dict[str, Any]) -> FxRequest:
    return FxRequest(
        **{
            **d,
            "amount": None if d["amount"] is None else Decimal(d["amount"]),
            "ytd_usd": Decimal(d["ytd_usd"]),
            "on": date.fromisoformat(d["on"]) if d["on"] else None,
        }
    )


def _convert_args(req: FxRequest) -> dict[str, Any]:
    assert req.amount is not None and req.currency
    args: dict[str, Any] = {"amount": req.amount, "kind": req.kind, "on": req.on}
    if req.target and req.amount_currency not in (None, "TWD"):
        return {**args, "from_currency": req.amount_currency, "to_currency": req.target}
    if req.amount_currency == "TWD":
        return {**args, "from_currency": "TWD", "to_currency": req.currency}
    return {**args, "from_currency": req.currency, "to_currency": "TWD", "side": req.side}


def _check_args(req: FxRequest) -> dict[str, Any]:
    args: dict[str, Any] = {
        "customer": req.customer,
        "amount": req.amount,
        "currency": req.amount_currency or req.currency,
        "ytd_usd": req.ytd_usd,
        "on": req.on,
    }
    convert = _convert_args(req)
    if convert.get("to_currency") == "TWD":
        # The duties' TWD equivalent is the settlement the conversion shows, at the same side
        # and kind of rate: one TWD figure per answer, not a mid-rate one beside it.
        args |= {"side": convert["side"], "kind": convert["kind"]}
    return args


def _article_hits(
    deps: AgentDeps, runtime: Runtime[RunContext], refs: list[dict[str, Any]], calls: list
) -> list[dict[str, Any]]:
    """The articles the rules rest on, as the knowledge base holds them (text, date, link)."""
    out: list[dict[str, Any]] = []
    for ref in refs:
        try:
            found, call = search_regulations(
                deps.compliance, runtime.context.user, f"{ref['law']}第{ref['article']}條", 1
            )
        except KnowledgeError:
            continue
        calls.append(call)
        same = found and (found[0]["law"], found[0]["article"]) == (ref["law"], ref["article"])
        if same and all(h["chunk_id"] != found[0]["chunk_id"] for h in out):
            out.append(found[0])
    return out


def _money(amount: Any, currency: str) -> str:
    value = Decimal(str(amount))
    text = f"{value:,.0f}" if value == value.to_integral() else f"{value:,.2f}"
    return f"{currency} {text}"


def _facts(state: FxState, english: bool) -> str:
    req = state["request"]
    lines = [prompts.COMPUTED_EN if english else prompts.COMPUTED_ZH]
    conv = state.get("conversion")
    if conv:
        frm = _money(conv["from_amount"], conv["from_currency"])
        to = _money(conv["amount"], conv["currency"])
        if english:
            lines.append(
                f"• Conversion: {frm} → {to} ({conv['rate_side']}, {conv['rate_kind']} "
                f"{conv['rate']}, board rate of {conv['rate_date']})"
            )
        else:
            side = prompts.SIDE_ZH.get(conv["rate_side"], conv["rate_side"])
            kind = prompts.KIND_ZH.get(conv["rate_kind"], conv["rate_kind"])
            lines.append(
                f"• 換算：{frm} → {to}（{side}・{kind} {conv['rate']}，牌告日期 {conv['rate_date']}）"
            )
        if conv.get("stale_days"):
            asked, used, days = conv["requested_date"], conv["rate_date"], conv["stale_days"]
            lines.append(
                f"  No quote on {asked}: the latest before it, {used}, is {days} days older."
                if english
                else f"  {asked} 無牌告，採該日以前最近一日（{used}）之牌告，相差 {days} 日。"
            )
    rate = state.get("rate")
    if rate:
        kind = rate["kind"] if english else prompts.KIND_ZH.get(rate["kind"], rate["kind"])
        lines.append(
            f"• {rate['currency']} {kind}: bank buys {rate['bank_buys']}, bank sells "
            f"{rate['bank_sells']} (board of {rate['rate_date']})"
            if english
            else f"• {rate['currency']} {kind}牌告：本行買入 {rate['bank_buys']}，本行賣出 "
            f"{rate['bank_sells']}（牌告日期 {rate['rate_date']}）"
        )
        if rate.get("stale_days"):
            asked = rate.get("requested_date")
            lines.append(
                f"  No board on {asked}; the latest before it is {rate['stale_days']} days older."
                if english
                else f"  {asked} 無牌告，採該日以前最近一日之牌告，相差 {rate['stale_days']} 日。"
            )
    check = state.get("check")
    if check:
        if req["customer_assumed"]:
            lines.append(
                "• 未說明客戶類型，以個人計。"
                if not english
                else "• Customer type not given: taken as an individual."
            )

        def yn(flag: bool) -> str:
            return ("yes" if flag else "no") if english else ("是" if flag else "否")

        if english:
            lines.append(f"• Customer: {req['customer']}")
            lines.append(f"• Declaration required: {yn(check['declaration_required'])}")
            lines.append(
                f"• Documents checked by the bank first: {yn(check['documents_required'])}"
            )
            lines.append(f"• Central bank approval first: {yn(check['approval_required'])}")
        else:
            lines.append(f"• 客戶類型：{CUSTOMER_ZH.get(req['customer'], req['customer'])}")
            lines.append(f"• 應申報：{yn(check['declaration_required'])}")
            lines.append(f"• 應先檢附證明文件經銀行確認：{yn(check['documents_required'])}")
            lines.append(f"• 應先經中央銀行核准：{yn(check['approval_required'])}")
        for reason in check.get("reasons", []):
            lines.append(f"  – {_one_language(reason, english)}")
        for note in check.get("notes", []):
            lines.append(f"  ※ {_one_language(note, english)}")
    carry = state.get("carry")
    if carry:
        yes = carry["answer"]["en" if english else "zh"]
        lines.append(f"• Declare to customs: {yes}" if english else f"• 出入境應向海關申報：{yes}")
        for reason in carry.get("reasons", []):
            lines.append(f"  – {_one_language(reason, english)}")
        for note in carry.get("notes", []):
            lines.append(f"  ※ {_one_language(note, english)}")
    # The conversion and the check may both fail on the same missing rate: say it once.
    for problem in dict.fromkeys(state.get("problems", [])):
        lines.append(f"⚠ {problem}")
    return "\n".join(lines) if len(lines) > 1 else ""


def _duty(state: FxState) -> str | None:
    """What code decided of a declaration: "yes", "no", "open" (customs, Mainland notes only:
    their limit's figure is not in the corpus), or None (nothing decided: a rate question)."""
    carry, check = state.get("carry"), state.get("check")
    if carry:
        if carry["declare"]:
            return "yes"
        return "open" if carry.get("cny") is not None else "no"
    if check:
        return "yes" if check["declaration_required"] else "no"
    return None


def _one_language(text: str, english: bool) -> str:
    """The service writes 「中文 / English」; an answer speaks the question's language."""
    zh, sep, en = text.partition(" / ")
    return (en if english else zh) if sep else text


def _articles_block(
    deps: AgentDeps, terms: set[str], hits: list[dict[str, Any]], english: bool
) -> str:
    if not hits:
        return ""
    lines = ["Articles:" if english else "依據條文："]
    for n, h in enumerate(hits, 1):
        date = h.get("amended")
        lines.append(
            f"{n}. 〔{h['label']}〕"
            + (
                f"（修正日期 {date}）"
                if date and not english
                else f" (amended {date})"
                if date
                else ""
            )
        )
        quote = " ".join(excerpt(deps.analyzer, terms, h["text"]).split())
        if quote:
            lines.append(f"   「{quote}」")
    return "\n".join(lines)


def _explain(
    s: Any,
    llm: Any,
    question: str,
    facts: str,
    hits: list[dict[str, Any]],
    terms: set[str],
    analyzer: Any,
    english: bool,
    fence: Fence,
    duty: str | None = None,
) -> dict[str, Any]:
    """The computed facts first, as code wrote them; then the model's short explanation over
    numbered excerpts of the articles code chose, streamed through the citation filter (it may
    point only at those articles). ``duty``: what code decided of a declaration (``_duty``)."""
    emit("token", facts + "\n\n")
    excerpts = model_excerpts(analyzer, terms, hits)
    messages = [
        Message("system", prompts.SYSTEM_EN if english else prompts.SYSTEM_ZH),
        Message("user", context_block(excerpts, english, fence), trimmable=True),
        # The computed facts are a tool's result: data, like the articles.
        Message("user", f"{fence.wrap('computed', facts)}\n\n{question_block(question, english)}"),
    ]
    # Figures are code's: a clause of the model's holding a sum or a rate that neither the
    # question nor the computed lines hold is dropped, so a teller never reads two amounts for
    # one settlement; so is one that says the opposite of the duty code decided.
    same_figures = only_figures_from(f"{question}\n{facts}")
    same_duty = agrees_with(duty) if duty is not None else None
    written = write_over(
        llm,
        messages,
        [h["label"] for h in hits],
        s.answer_max_tokens,
        figures=lambda c: same_figures(c) and (same_duty is None or same_duty(c)),
    )
    return {
        "answer": f"{facts}\n\n{written.text}".strip(),
        "citations": hits,
        "generated": bool(written.text),
        "thinking": written.thinking,
        "dropped": written.dropped(),
    }
