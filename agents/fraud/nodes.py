"""The fraud agent's nodes: understand → investigate (trace, score) → compose.

Module-level functions of the state and the run's context (user, conversation, typed
dependencies). Every figure comes from the fraud desk through the agent's tools; the desk
checks the investigator's role and records each look at an account.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from agents.compliance.compose import compose_without_model, key_terms
from agents.compliance.tools import search_regulations
from agents.context import RunContext, deps_of
from agents.fraud.parse import parse_request
from agents.fraud.state import FraudState
from agents.fraud.tools import (
    FRAUD_ACCOUNT,
    FRAUD_ALERT,
    FRAUD_EXPLAIN,
    FRAUD_PROPOSE,
    FRAUD_RING,
    FRAUD_SCORE,
    FRAUD_TOP,
    FRAUD_TRACE,
)
from agents.steps import composed_result, emit, node_span
from agents.toolcall import call_tool
from knowledge.analyzer import is_mostly_english

if TYPE_CHECKING:
    from assistant.desks.fraud import FraudDesk
    from assistant.permissions import UserContext

EVIDENCE_ROWS = 15
MEMO_SHOWN = 40  # characters of a transfer memo in the evidence table
# Words that ask for work on an account; without them and without an account, the question is
# about the rules and goes to the regulations.
_ACTION = re.compile(
    r"追查|追蹤|調查|查一下|金流|像不像|像.*嗎|分數|評分|trace|score|investigate", re.I
)  # transfers listed in the answer; the full table is in the trace (CSV export)


def understand(state: FraudState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    t = deps_of(runtime).telemetry
    steps = list(state.get("steps", []))
    with node_span(t, "fraud.understand", steps) as note:
        req = parse_request(state["question"])
        if req.account is None:
            # 「這個帳戶像水房嗎？」: the account of the conversation so far.
            req.account = _last_account(state.get("history", []))
        note(f"{req.account or '-'} {','.join(req.directions)} {req.hops} hops")
    d = asdict(req)
    d["since"] = req.since.isoformat() if req.since else None
    d["until"] = req.until.isoformat() if req.until else None
    return {"request": d, "steps": steps, "problems": [*req.errors, *req.notes]}


def investigate(state: FraudState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    ctx = runtime.context
    t = deps.telemetry
    steps = list(state.get("steps", []))
    calls: list[dict[str, Any]] = []
    problems = list(state.get("problems", []))
    r = state["request"]
    traces: list[dict[str, Any]] = []
    score = None
    account_info: dict[str, Any] | None = None
    proposals: list[dict[str, Any]] = []
    ring: dict[str, Any] | None = None
    since = until = None
    alert: dict[str, Any] | None = None
    with node_span(t, "fraud.investigate", steps) as note:
        desk = deps.fraud
        if desk is not None and r.get("alert_id") is not None and not r["account"]:
            # 「警示 #12 的前期金流」: the alert names the account; the rest as for an account.
            alert = call_tool(t, ctx, FRAUD_ALERT, {"alert_id": r["alert_id"]}, calls, problems)
            if alert is None:
                note("unknown alert")
                return {
                    "traces": [],
                    "score": None,
                    "problems": problems,
                    "tool_calls": calls,
                    "steps": steps,
                }
            r = {**r, "account": alert["account"]}
        if desk is not None and r.get("top") and not r["account"]:
            # 「目前風險最高的帳戶是哪些？」: the ledger's highest scores, which model gave them.
            top = call_tool(t, ctx, FRAUD_TOP, {"n": r["top"]}, calls, problems)
            note(f"top {r['top']}")
            return {
                "top": top,
                "traces": [],
                "score": None,
                "problems": problems,
                "tool_calls": calls,
                "steps": steps,
            }
        if desk is None:
            problems.append("防詐服務未啟用 / the fraud service is not configured")
        elif not r["account"] and not _ACTION.search(state["question"]):
            # A question about the rules (「人頭帳戶會被怎麼處理？」), not about an account:
            # answered from the regulations, as the compliance agent would.
            hits, call = search_regulations(
                deps.compliance, ctx.user, state["question"], deps.settings.top_k
            )
            calls.append(call)
            note(f"regulations: {len(hits)} articles")
            return {
                "traces": [],
                "score": None,
                "hits": hits,
                "problems": problems,
                "tool_calls": calls,
                "steps": steps,
            }
        elif not r["account"]:
            problems.append(
                "請提供帳號，例如「追查帳戶 0123-456-789012 的前三層金流」 / give an account number"
            )
        elif not r["errors"]:
            since, until = r["since"], r["until"]
            if r["days"] and not since:
                latest = desk.latest()
                if latest is not None:
                    since = (latest - timedelta(days=r["days"])).isoformat()
            info = call_tool(t, ctx, FRAUD_ACCOUNT, {"account": r["account"]}, calls, problems)
            if info is None:  # unknown account: said once, nothing else to look at
                note("unknown account")
                return {
                    "traces": [],
                    "score": None,
                    "problems": problems,
                    "tool_calls": calls,
                    "steps": steps,
                }
            account_info = info
        if r["account"] and not r["errors"] and desk is not None:
            if r["wants_trace"]:
                for direction in r["directions"]:
                    args = {
                        "account": r["account"],
                        "direction": direction,
                        "hops": r["hops"],
                        "since": since,
                        "until": until,
                    }
                    out = call_tool(t, ctx, FRAUD_TRACE, args, calls, problems)
                    if out is not None:
                        traces.append(_with_evidence(desk, ctx.user, out.to_dict()))
            if r["wants_score"]:
                account = {"account": r["account"]}
                score = call_tool(t, ctx, FRAUD_SCORE, account, calls, problems)
                if score is not None:
                    score["reasons"] = (
                        call_tool(t, ctx, FRAUD_EXPLAIN, account, calls, problems) or []
                    )
            if r.get("wants_ring"):
                ring = call_tool(t, ctx, FRAUD_RING, {"account": r["account"]}, calls, problems)
            for kind, params in _decisions(r, since, until):
                args = {
                    "kind": kind,
                    "account": r["account"],
                    **params,
                    "reason": _reason(state["question"], score),
                }
                proposal = call_tool(t, ctx, FRAUD_PROPOSE, args, calls, problems)
                if proposal is not None:
                    proposals.append(proposal)
        note(f"{len(traces)} traces, score {'yes' if score else 'no'}, {len(proposals)} proposals")
    return {
        "alert": alert,
        "account_info": account_info,
        "traces": traces,
        "score": score,
        "ring": ring,
        "proposals": proposals,
        "problems": problems,
        "tool_calls": calls,
        "steps": steps,
    }


def compose(state: FraudState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    t = deps.telemetry
    steps = list(state.get("steps", []))
    question = state["question"]
    english = is_mostly_english(question)
    hits = state.get("hits") or []
    with node_span(t, "fraud.compose", steps) as note:
        if hits:
            cited = hits[: deps.settings.cite_k]
            terms = key_terms(deps.retriever, question)
            answer = compose_without_model(deps.analyzer, terms, cited, english)
        else:
            cited = []
            answer = _compose(state, english)
        emit("token", answer)
        note("composed")
    result = composed_result(
        answer,
        cited,
        state.get("tool_calls", []),
        steps,
        {
            "traces": [_for_picture(tr) for tr in state.get("traces", [])],
            "score": state.get("score"),
            "account": state.get("account_info"),
            "proposals": state.get("proposals", []),
            "ring": state.get("ring"),
            "top": state.get("top"),
        },
    )
    return {"result": result, "steps": steps}


PICTURE_TRANSFERS = 500


def _for_picture(trace: dict[str, Any]) -> dict[str, Any]:
    """What travels with the answer (checkpoint, API, UI): the accounts and the largest
    transfers, enough for the picture and the table. A trace of thousands of transfers would
    otherwise be copied into every later checkpoint of the conversation; the full evidence
    table is the export (CSV) instead."""
    transfers = trace["transfers"]
    if len(transfers) <= PICTURE_TRANSFERS:
        return trace
    keep = sorted(transfers, key=lambda x: -x["amount"])[:PICTURE_TRANSFERS]
    order = {id(x): i for i, x in enumerate(transfers)}
    keep.sort(key=lambda x: order[id(x)])
    return {**trace, "transfers": keep, "transfers_total": len(transfers)}


def _decisions(
    r: dict[str, Any], since: str | None, until: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The decisions the question asks the agent to propose (never to carry out)."""
    out: list[tuple[str, dict[str, Any]]] = []
    if r.get("flag"):
        out.append(("flag", {"status": r["flag"]}))
    if r.get("wants_export"):
        params: dict[str, Any] = {"directions": r["directions"], "hops": r["hops"]}
        params.update({k: v for k, v in (("since", since), ("until", until)) if v})
        out.append(("export", params))
    return out


def _reason(question: str, score: dict[str, Any] | None) -> str:
    """Why the proposal was made, as the investigator will see it when deciding."""
    text = f"調查人員提問 / asked: {question.strip()}"
    if score:
        text += f"；風險分數 / score {score['score']:.2f}"
    return text


def _top_lines(top: dict[str, Any], english: bool) -> list[str]:
    """The highest-scored accounts, and which model scored them (the bank's own, federated, or
    the reference where the ledger has no labels)."""
    rows = top["accounts"]
    model = top["model"]["en" if english else "zh"]
    head = (
        f"• The {len(rows)} accounts with the highest mule scores ({model}):"
        if english
        else f"• 人頭／水房風險分數最高的 {len(rows)} 個帳戶（{model}）："
    )
    body = [f"  {i}. {r['account']}  {r['score']:.3f}" for i, r in enumerate(rows, start=1)]
    tail = (
        "  A score ranks accounts for a look; an investigator decides."
        if english
        else "  分數僅供排序調查優先順序，是否為人頭帳戶由調查人員決定。"
    )
    return [head, *body, tail]


def _alert_line(alert: dict[str, Any], english: bool) -> str:
    """The alert the question named: when, which transfer, what the monitor decided and why."""
    reasons = "; ".join(
        r.get("en" if english else "zh", r.get("rule", "")) for r in alert["reasons"]
    )
    when = str(alert["ts"])[:16].replace("T", " ")
    if english:
        return (
            f"• Alert #{alert['id']} ({alert['status']}): {alert['action']} on transfer "
            f"{alert['transfer_id']} at {when}, {alert['amount']:,.0f}, account "
            f"{alert['account']}; {reasons}"
        )
    return (
        f"• 警示 #{alert['id']}（{alert['status']}）：{when} 交易 {alert['transfer_id']}，"
        f"金額 {alert['amount']:,.0f}，帳戶 {alert['account']}，決定 {alert['action']}；{reasons}"
    )


def _last_account(history: list[Any]) -> str | None:
    for turn in reversed(history):
        for text in (turn.get("question", ""), turn.get("answer", "")):
            req = parse_request(text)
            if req.account:
                return req.account
    return None


def _with_evidence(desk: FraudDesk, user: UserContext, trace: dict[str, Any]) -> dict[str, Any]:
    """The memos and original amounts of the transfers the answer shows, read from the
    ledger: evidence only."""
    rows = trace["transfers"][:EVIDENCE_ROWS]
    held = desk.evidence(user, [x["id"] for x in rows]) if rows else {}
    for x in rows:
        x.update(held.get(x["id"], {}))
    return trace


def _amount_cell(x: dict[str, Any]) -> str:
    """NT$, and what the file gave where the ledger converted it (USD 1,000.00)."""
    cell = f"{x['amount']:,.0f}"
    if x.get("orig_currency"):
        cell += f"（{x['orig_currency']} {x['orig_amount']:,.2f}）"
    return cell


def _quoted(memo: str) -> str:
    """A payer's memo as a table cell: quoted, one line, short, no table or fence syntax. It
    is whatever the payer typed, so it is shown as data and nothing reads it as a request."""
    text = " ".join(memo.replace("|", "｜").split())
    text = text if len(text) <= MEMO_SHOWN else text[: MEMO_SHOWN - 1] + "…"
    return f"「{text}」" if text else ""


def _compose(state: FraudState, english: bool) -> str:
    lines = [
        "Computed from the ledger (not by a language model):"
        if english
        else "以下依帳務資料計算（非語言模型生成）："
    ]
    alert = state.get("alert")
    if alert:
        lines.append(_alert_line(alert, english))
    top = state.get("top")
    if top:
        lines.extend(_top_lines(top, english))
    info = state.get("account_info")
    if info:
        lines.append(_account_line(info, english))
    ring = state.get("ring")
    if ring is not None:
        lines.extend(_ring_lines(ring, english))
    for tr in state.get("traces", []):
        up = tr["direction"] == "up"
        accounts = [a for a in tr["accounts"] if a["role"] != "root"]
        head = (
            f"• {'Upstream (where the money came from)' if up else 'Downstream (where it went)'}, "
            f"{tr['hops']} hops: {len(accounts)} accounts, {len(tr['transfers'])} transfers"
            if english
            else f"• {'上游（資金來源）' if up else '下游（資金去向）'}，{tr['hops']} 層："
            f"{len(accounts)} 個帳戶、{len(tr['transfers'])} 筆交易"
        )
        lines.append(head)
        for hop in range(1, tr["hops"] + 1):
            at = [a for a in accounts if a["hop"] == hop]
            if not at:
                continue
            top = sorted(at, key=lambda a: -a["attributed"])[:3]
            names = "、".join(f"{a['id']}（{a['attributed']:,.0f}）" for a in top)
            lines.append(
                f"  hop {hop}: {len(at)} accounts; most money: {names}"
                if english
                else f"  第 {hop} 層：{len(at)} 個帳戶；金額最多：{names}"
            )
        for c in tr.get("cash", []):
            out = c["kind"] == "cash_out"
            lines.append(
                (
                    f"  💵 cash {'withdrawn' if out else 'deposited'} at {c['account']}: "
                    f"{c['count']} times, {c['amount']:,.0f} (hop {', '.join(map(str, c['hops']))})"
                    f" — {'the money left' if out else 'the money came into'} the banking system "
                    "here; the trace ends"
                )
                if english
                else (
                    f"  💵 於 {c['account']} 現金{'提領' if out else '存入'} {c['count']} 筆、"
                    f"{c['amount']:,.0f} 元（第 {'、'.join(map(str, c['hops']))} 層）："
                    f"{'款項在此離開銀行體系' if out else '款項以現金進入銀行體系'}，金流追查至此為止"
                )
            )
        for cut in tr.get("truncated", [])[:3]:
            lines.append(
                f"  ⚠ truncated at {cut['account']} hop {cut['hop']}: kept {cut['kept']}, "
                f"dropped {cut['dropped']}"
                if english
                else f"  ⚠ {cut['account']} 第 {cut['hop']} 層交易過多，保留 {cut['kept']} 筆、"
                f"略去 {cut['dropped']} 筆（金額 {cut['dropped_amount']:,.0f}）"
            )
        rows = tr["transfers"][:EVIDENCE_ROWS]
        if rows:
            memo = any(x.get("memo") for x in rows)
            lines.append("")
            lines.append(
                "| hop | 交易序號 id | 時間 time | 轉出 from | 轉入 to | 金額 amount |"
                + (" 附言 memo |" if memo else "")
            )
            lines.append("|---|---|---|---|---|---|" + ("---|" if memo else ""))
            for x in rows:
                lines.append(
                    f"| {x['hop']} | {x['id']} | {x['ts'][:16].replace('T', ' ')} | {x['from']} | "
                    f"{x['to']} | {_amount_cell(x)} |"
                    + (f" {_quoted(x.get('memo') or '')} |" if memo else "")
                )
            if len(tr["transfers"]) > EVIDENCE_ROWS:
                more = len(tr["transfers"]) - EVIDENCE_ROWS
                lines.append(
                    f"(+{more} more; export the full evidence table as CSV)"
                    if english
                    else f"（另有 {more} 筆，完整證據表可匯出 CSV）"
                )
            lines.append("")
    score = state.get("score")
    if score:
        lines.append(
            f"• Mule risk score: {score['score']:.2f}"
            if english
            else f"• 人頭／水房風險分數：{score['score']:.2f}"
        )
        for reason in score.get("reasons", [])[:5]:
            lines.append(f"  – {reason.get('en' if english else 'zh', '')}")
        if not state.get("proposals"):
            lines.append(
                "A flag or an evidence export is the investigator's decision, recorded in the "
                "audit: ask for one (「列為警示」, 「匯出證據」) and confirm it."
                if english
                else "是否標記帳戶或匯出證據由調查人員決定，並記入稽核軌跡（可說「列為警示」"
                "或「匯出證據」提出建議，再由調查人員確認）。"
            )
    for a in state.get("proposals", []):
        lines.append(_proposal_line(a, english))
    for p in state.get("problems", []):
        lines.append(f"⚠ {p}")
    if len(lines) == 1:
        lines.append(
            "No trace or score was asked for." if english else "請說明要追查金流或評估風險。"
        )
    return "\n".join(lines).strip()


def _ring_lines(ring: dict[str, Any], english: bool) -> list[str]:
    members = ring["members"]
    head = (
        f"• Ring around {ring['seed']}: {len(members)} accounts "
        f"(of {ring['considered']} within reach), strongest tie first"
        if english
        else f"• {ring['seed']} 的同夥帳戶：{len(members)} 個（鄰近 {ring['considered']} 個中），"
        "關聯最強者在前"
    )
    out = [head]
    for m in members[:10]:
        why = "; ".join(r["en"] if english else r["zh"] for r in m["reasons"])
        out.append(f"  {m['account']}（{m['score']:.2f}）{why}")
    return out


def _account_line(info: dict[str, Any], english: bool) -> str:
    bank = info.get("bank_code") or "—"
    opened = info.get("opened") or "—"
    status = info.get("status") or "—"
    if english:
        return f"• Account {info['id']}: bank {bank}, opened {opened}, status {status}"
    return f"• 帳戶 {info['id']}：銀行代碼 {bank}，開戶日 {opened}，狀態 {status}"


def _proposal_line(a: dict[str, Any], english: bool) -> str:
    if a["kind"] == "flag":
        what_en = f"flag account {a['account']} as {a['params'].get('status')}"
        what_zh = f"將帳戶 {a['account']} 標記為「{a['params'].get('status')}」"
    else:
        what_en = f"export the evidence (trace) of account {a['account']}"
        what_zh = f"匯出帳戶 {a['account']} 的金流證據"
    if a["status"] != "proposed":
        return (
            f"• Proposal #{a['id']} ({what_en}) was already {a['status']}."
            if english
            else f"• 建議 #{a['id']}（{what_zh}）已處理：{a['status']}。"
        )
    return (
        f"• Proposed #{a['id']}: {what_en}. Not done yet: an investigator confirms or rejects it "
        f"(UI tab 防詐, or `assistant fraud confirm {a['id']}`); both are audited."
        if english
        else f"• 已提出建議 #{a['id']}：{what_zh}。尚未執行，須由調查人員確認或駁回（介面「防詐」"
        f"分頁，或 assistant fraud confirm {a['id']}），兩者皆記入稽核軌跡。"
    )
