"""The FX desk tab: a currency's board-rate history as a chart, a converter, the declaration
check and the customs check of cash carried across the border. A thin shell over `FxDesk`,
called with the logged-in user: the desk decides who may (every role may read board rates) and
its refusal is what the tab shows."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import gradio as gr
import pandas as pd

from assistant.dates import parse_date
from assistant.errors import AssistantError
from assistant.fx.border import parse_cash
from assistant.fx.convert import parse_amount

_TEXT: dict[str, tuple[str, str]] = {
    "tab": ("外匯", "FX desk"),
    "history": ("牌告匯率走勢", "Board-rate history"),
    "currency": ("幣別", "Currency"),
    "kind": ("匯率種類", "Rate kind"),
    "start": ("起日（2016-01-01 或 105/1/1）", "From (2016-01-01 or ROC 105/1/1)"),
    "end": ("迄日", "To"),
    "show": ("查詢", "Show"),
    "convert": ("換算", "Convert"),
    "amount": ("金額（70萬、1.5億、600,000）", "Amount (70萬, 1.5億, 600,000)"),
    "from": ("由", "From"),
    "to": ("換成", "To"),
    "side": ("客戶", "Customer"),
    "date": ("日期（空白為最新牌告）", "Date (blank: the latest board)"),
    "check": ("申報義務", "Declaration duties"),
    "customer": ("客戶類型", "Customer type"),
    "ytd": ("今年已結匯（美元）", "Settled this year (USD)"),
    "buys": ("結購（買外幣）", "buys foreign currency"),
    "sells": ("結售（賣外幣）", "sells foreign currency"),
    "carry": ("出入境攜帶現鈔", "Cash carried across the border"),
    "cash": ("攜帶的現鈔（每行一筆：1.5萬 USD）", "Notes carried (one a line: 1.5萬 USD)"),
    "carry_go": ("海關申報", "Customs declaration"),
    "bank_buys": ("本行買入", "Bank buys"),
    "bank_sells": ("本行賣出", "Bank sells"),
    "no_rates": (
        "尚未匯入牌告匯率：assistant fx import-rates CSV",
        "No board rates yet: assistant fx import-rates CSV",
    ),
}
_CUSTOMERS = {
    "individual": ("個人", "individual"),
    "company": ("公司、行號", "company"),
    "group": ("團體", "group"),
    "nonresident": ("非居住民", "nonresident"),
    "minor": ("未滿十八歲", "under 18"),
}
_KINDS = {"spot": ("即期", "spot"), "cash": ("現鈔", "cash")}


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return en if lang == "en" else zh


def _choices(table: dict[str, tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    return [(en if lang == "en" else zh, key) for key, (zh, en) in table.items()]


def _date(text: str | None) -> date | None:
    return parse_date(text) if text and text.strip() else None


def _error(exc: Exception) -> str:
    return f"<span class='twfin-error'>⚠ {html.escape(str(exc))}</span>"


def build(
    desk: Any, user_of: Callable[[gr.Request], Any], lang0: str
) -> tuple[Callable[[str], dict[Any, Any]], list[Any]]:
    """Lay out the tab's components in the current Blocks context and wire them. Returns the
    function that relabels them for a language, and the components it updates (the page calls
    it when the language changes)."""
    # The currency list is public (which boards exist), so it is read without a user.
    currencies = [c for c in desk.currencies() if c != "TWD"] if desk is not None else []
    first = currencies[0] if currencies else None
    with gr.Group():
        hist_title = gr.Markdown(f"### {_t('history', lang0)}")
        with gr.Row():
            cur = gr.Dropdown(currencies, value=first, label=_t("currency", lang0), scale=1)
            kind = gr.Radio(_choices(_KINDS, lang0), value="spot", label=_t("kind", lang0))
            start = gr.Textbox(label=_t("start", lang0), scale=1)
            end = gr.Textbox(label=_t("end", lang0), scale=1)
            show = gr.Button(_t("show", lang0), variant="secondary", scale=0)
        chart = gr.LinePlot(
            x="date", y="rate", color="series", height=320, elem_id="twfin-fx-chart"
        )
        latest = gr.Markdown("" if currencies else _t("no_rates", lang0), elem_id="twfin-fx-latest")
    with gr.Row(equal_height=False):
        with gr.Column():
            conv_title = gr.Markdown(f"### {_t('convert', lang0)}")
            amount = gr.Textbox(label=_t("amount", lang0), elem_id="twfin-fx-amount")
            with gr.Row():
                frm = gr.Dropdown(["TWD", *currencies], value=first, label=_t("from", lang0))
                to = gr.Dropdown(["TWD", *currencies], value="TWD", label=_t("to", lang0))
            side = gr.Radio(
                [(_t("buys", lang0), "customer-buys"), (_t("sells", lang0), "customer-sells")],
                value="customer-buys",
                label=_t("side", lang0),
            )
            conv_kind = gr.Radio(_choices(_KINDS, lang0), value="spot", label=_t("kind", lang0))
            conv_date = gr.Textbox(label=_t("date", lang0))
            conv_btn = gr.Button(_t("convert", lang0), variant="primary", elem_id="twfin-fx-go")
            conv_out = gr.Markdown(elem_id="twfin-fx-result")
        with gr.Column():
            check_title = gr.Markdown(f"### {_t('check', lang0)}")
            customer = gr.Radio(
                _choices(_CUSTOMERS, lang0), value="individual", label=_t("customer", lang0)
            )
            chk_amount = gr.Textbox(label=_t("amount", lang0), elem_id="twfin-fx-check-amount")
            chk_cur = gr.Dropdown(["TWD", *currencies], value=first, label=_t("currency", lang0))
            ytd = gr.Textbox(value="0", label=_t("ytd", lang0))
            chk_date = gr.Textbox(label=_t("date", lang0))
            chk_btn = gr.Button(_t("check", lang0), variant="primary", elem_id="twfin-fx-check")
            chk_out = gr.Markdown(elem_id="twfin-fx-duties")
    with gr.Group():
        carry_title = gr.Markdown(f"### {_t('carry', lang0)}")
        with gr.Row():
            cash = gr.Textbox(
                label=_t("cash", lang0), lines=3, scale=2, elem_id="twfin-fx-carry-cash"
            )
            carry_date = gr.Textbox(label=_t("date", lang0), scale=1)
            carry_btn = gr.Button(
                _t("carry_go", lang0), variant="primary", scale=0, elem_id="twfin-fx-carry"
            )
        carry_out = gr.Markdown(elem_id="twfin-fx-customs")

    def _desk() -> Any:
        if desk is None:
            raise AssistantError("此伺服器未提供外匯服務 / this server has no FX desk")
        return desk

    def history(currency: str, kind_value: str, a: str, b: str, request: gr.Request) -> Any:
        buys, sells = (f"{zh} {en}" for zh, en in (_TEXT["bank_buys"], _TEXT["bank_sells"]))
        try:
            rows = _desk().history(
                user_of(request), currency, kind=kind_value, start=_date(a), end=_date(b)
            )
        except (AssistantError, ValueError) as exc:
            return gr.update(value=None), _error(exc)
        frame = pd.DataFrame(
            [
                {"date": r.rate_date, "rate": float(value), "series": series}
                for r in rows
                for series, value in ((buys, r.bank_buys), (sells, r.bank_sells))
                if value is not None
            ]
        )
        if frame.empty:
            return gr.update(value=None), _error(ValueError("no quotes in that period"))
        frame["date"] = pd.to_datetime(frame["date"])
        last = rows[-1]
        note = f"**{currency}** {last.rate_date}：{last.bank_buys} / {last.bank_sells}"
        return frame, note

    def convert(
        text: str,
        a: str,
        b: str,
        side_value: str,
        kind_value: str,
        on: str,
        request: gr.Request,
    ) -> str:
        try:
            c = (
                _desk()
                .convert(
                    user_of(request),
                    parse_amount(text),
                    a,
                    b,
                    side=side_value if "TWD" in (a, b) else None,
                    kind=kind_value,
                    on=_date(on),
                )
                .to_dict()
            )
        except (AssistantError, ValueError, ArithmeticError) as exc:
            return _error(exc)
        stale = f" · {c['stale_days']} d" if c.get("stale_days") else ""
        return (
            f"**{c['currency']} {Decimal(c['amount']):,}**  \n"
            f"{c['from_currency']} {Decimal(c['from_amount']):,} × {c['rate']} "
            f"({c['rate_side']}, {c['rate_kind']}, {c['rate_date']}{stale})"
        )

    def check(
        who: str, text: str, currency: str, ytd_text: str, on: str, request: gr.Request
    ) -> str:
        try:
            r = (
                _desk()
                .check(
                    user_of(request),
                    customer=who,
                    amount=parse_amount(text),
                    currency=currency,
                    ytd_usd=parse_amount(ytd_text or "0"),
                    on=_date(on),
                )
                .to_dict()
            )
        except (AssistantError, ValueError, ArithmeticError) as exc:
            return _error(exc)
        flags = (
            ("declaration_required", "申報 / declaration"),
            ("documents_required", "先檢附文件 / documents first"),
            ("approval_required", "央行核准 / central bank approval"),
        )
        lines = [f"- {'✔' if r[key] else '—'} {label}" for key, label in flags]
        lines += [f"  - {html.escape(reason)}" for reason in r.get("reasons", [])]
        cited = "".join(f"〔{a['law']}第{a['article']}條〕" for a in r.get("articles", []))
        return "\n".join(lines) + (f"\n\n{cited}" if cited else "")

    def carry(text: str, on: str, request: gr.Request) -> str:
        amounts = []
        lines = [line for line in (text or "").splitlines() if line.strip()]
        try:
            for n, line in enumerate(lines, start=1):
                try:
                    amounts.append(parse_cash(line))
                except AssistantError as exc:
                    raise AssistantError(f"第 {n} 行 / line {n}: {exc}") from None
            r = _desk().check_carry(user_of(request), amounts=amounts, on=_date(on)).to_dict()
        except (AssistantError, ValueError, ArithmeticError) as exc:
            return _error(exc)
        # ？: only Mainland notes could make it so, and their limit's figure is not in the corpus
        mark = "✔" if r["declare"] else "？" if r["cny"] is not None else "—"
        zh, en = r["answer"]["zh"], r["answer"]["en"]
        lines = [f"**{mark} 應向海關申報：{zh} / declare to customs: {en}**", ""]
        lines += [f"- {html.escape(x)}" for x in r["reasons"] + r["notes"]]
        cited = "".join(f"〔{a['law']}第{a['article']}條〕" for a in r.get("articles", []))
        return "\n".join(lines) + (f"\n\n{cited}" if cited else "")

    show.click(history, [cur, kind, start, end], [chart, latest], api_visibility="private")
    conv_btn.click(
        convert,
        [amount, frm, to, side, conv_kind, conv_date],
        [conv_out],
        api_visibility="private",
    )
    chk_btn.click(
        check,
        [customer, chk_amount, chk_cur, ytd, chk_date],
        [chk_out],
        api_visibility="private",
    )

    carry_btn.click(carry, [cash, carry_date], [carry_out], api_visibility="private")

    def relabel(lang: str) -> dict[Any, Any]:
        return {
            hist_title: f"### {_t('history', lang)}",
            cur: gr.update(label=_t("currency", lang)),
            kind: gr.update(label=_t("kind", lang), choices=_choices(_KINDS, lang)),
            start: gr.update(label=_t("start", lang)),
            end: gr.update(label=_t("end", lang)),
            show: gr.update(value=_t("show", lang)),
            conv_title: f"### {_t('convert', lang)}",
            amount: gr.update(label=_t("amount", lang)),
            frm: gr.update(label=_t("from", lang)),
            to: gr.update(label=_t("to", lang)),
            side: gr.update(
                label=_t("side", lang),
                choices=[
                    (_t("buys", lang), "customer-buys"),
                    (_t("sells", lang), "customer-sells"),
                ],
            ),
            conv_kind: gr.update(label=_t("kind", lang), choices=_choices(_KINDS, lang)),
            conv_date: gr.update(label=_t("date", lang)),
            conv_btn: gr.update(value=_t("convert", lang)),
            check_title: f"### {_t('check', lang)}",
            customer: gr.update(label=_t("customer", lang), choices=_choices(_CUSTOMERS, lang)),
            chk_amount: gr.update(label=_t("amount", lang)),
            chk_cur: gr.update(label=_t("currency", lang)),
            ytd: gr.update(label=_t("ytd", lang)),
            chk_date: gr.update(label=_t("date", lang)),
            chk_btn: gr.update(value=_t("check", lang)),
            carry_title: f"### {_t('carry', lang)}",
            cash: gr.update(label=_t("cash", lang)),
            carry_date: gr.update(label=_t("date", lang)),
            carry_btn: gr.update(value=_t("carry_go", lang)),
        }

    return relabel, [
        hist_title,
        cur,
        kind,
        start,
        end,
        show,
        conv_title,
        amount,
        frm,
        to,
        side,
        conv_kind,
        conv_date,
        conv_btn,
        check_title,
        customer,
        chk_amount,
        chk_cur,
        ytd,
        chk_date,
        chk_btn,
        carry_title,
        cash,
        carry_date,
        carry_btn,
    ]


def tab_label(lang: str) -> str:
    return _t("tab", lang)
