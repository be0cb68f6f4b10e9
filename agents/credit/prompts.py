"""What the credit agent says: fixed messages and the texts it composes in code.

No model writes these: every figure comes from the desk's extraction and ratios, the rules
from the desk's draft.
"""

from __future__ import annotations

from typing import Any

PENDING_ZH = "待覆核"
NEED_REPORT = (
    "請先上傳公司財報 PDF（公開資訊觀測站 IFRS 財務報告），再提出徵信分析需求，例如「幫我做徵信分析"
    "草稿，申請額度 5000 萬，短期營運週轉金，一年期，無擔保」。/ Please upload the company's "
    "financial report (MOPS IFRS PDF) with the question first."
)
READ_FAILED = "財報無法擷取，未製作草稿 / the report could not be read: nothing was drafted."


def fmt(value: float | None, kind: str) -> str:
    from assistant.credit.memo import fmt_value

    return fmt_value(value, kind)


def summary(draft: dict[str, Any]) -> str:
    """What the analyst reads before deciding: the facts, the key ratios with their pages,
    the flags, the rules cited and where the DOCX is. Figures as the memo prints them."""
    from assistant.credit.rules import FACILITY_TYPES

    f = draft["facility"]
    amount = f"新臺幣 {int(float(f['amount'])):,} 元" if f.get("amount") else "未提供 not given"
    tenor = f"{f['tenor_months']} 個月" if f.get("tenor_months") else "未提供 not given"
    lines = [
        "以下依財報計算（非語言模型生成）/ computed from the statements, not by a model:",
        f"徵信報告草稿 #{draft['id']}：{draft.get('company') or draft['file']}"
        f"（{draft['file']}，{draft['period']}）",
        f"• 授信條件 facility：{FACILITY_TYPES[f['facility_type']]}；金額 {amount}；期限 {tenor}；"
        f"用途 {f.get('purpose') or '未提供'}；擔保 {f.get('collateral') or '無擔保 unsecured'}；"
        f"保證人 {'、'.join(f.get('guarantors') or []) or '無'}；"
        f"利害關係人 {'是' if f.get('related_party') else '否'}",
    ]
    spans = [x for x in (draft.get("year_to_date"), draft.get("quarter")) if x]
    if spans:
        lines.append(f"• 期間 periods：{'；'.join(spans)}")
    lines += [*_report_notes(draft), "", *_ratio_table(draft["ratios"]), ""]
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


def _report_notes(read: dict[str, Any]) -> list[str]:
    """What qualifies a report's ratios: an interim report's annualised figures, and how the
    report agreed with the conversation's other reports."""
    lines = []
    if read.get("interim"):
        lines.append(
            "• 期中報告：資產報酬率、權益報酬率、週轉率等以年初至今數字年化，為推估 / an interim "
            "report: ROA, ROE and turnovers are annualised from the year to date, an estimate"
        )
    cross = read.get("cross_check")
    if cross:
        lines.append(
            f"• 跨報告勾稽 cross-report check：{cross['compared']} 個數字比對，"
            f"{len(cross['disagreements'])} 不符 / {cross['compared']} figures compared, "
            f"{len(cross['disagreements'])} disagree"
        )
        lines += [f"  – {d['text']}" for d in cross["disagreements"]]
        lines += [f"  – 未比對 not compared：{w}" for w in cross["not_compared"]]
    return lines


def _ratio_table(ratios: dict[str, dict[str, Any]]) -> list[str]:
    from assistant.credit.memo import UNIT_ZH

    lines = ["| 比率 ratio | 本期 current | 單位 unit | 頁次 pages |", "|---|---|---|---|"]
    for r in ratios.values():
        pages = ", ".join(str(p) for p in r["pages"]) or "—"
        lines.append(
            f"| {r['zh']} {r['en']} | {fmt(r['value'], r['kind'])} | {UNIT_ZH[r['kind']]} | "
            f"{pages} |"
        )
    return lines


def figures_summary(figures: dict[str, Any]) -> str:
    """A report's key ratios with the pages they were read from, when only figures were asked
    for: no draft was made, and how to ask for one is said."""
    lines = [
        "以下依財報計算（非語言模型生成）/ computed from the statements, not by a model:",
        f"{figures.get('company') or figures['file']}（{figures['file']}，{figures['period']}）",
    ]
    lines += [*_report_notes(figures), "", *_ratio_table(figures["ratios"]), ""]
    lines.append(
        "未撰寫徵信報告草稿；需要時請說明，例如「幫我做徵信分析草稿，申請額度 5000 萬，一年期」。"
        " / No credit memo was drafted; ask for one with the facility (amount, tenor, purpose)."
    )
    return "\n".join(lines)


def how_to_decide(memo_id: int) -> str:
    return (
        f"請覆核草稿 #{memo_id}：核准、修改後核准或退回（介面「覆核」區，或 "
        f"assistant review CONVERSATION --approve|--edit FILE.md|--reject --note 理由）。"
        f" / Awaiting review: approve, approve with edits, or reject with a note."
    )


def decided(draft: dict[str, Any], d: dict[str, Any]) -> str:
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
