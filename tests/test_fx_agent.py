"""The FX agent in the graph: parsed arguments, computed numbers, duties with their articles,
on the real rates and the real FX regulations; a scripted model only for control flow."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from agents.fx.parse import parse_request
from assistant.container import Container
from tests.agent_support import ScriptedLLM
from tests.conftest import make_settings

LAWS = (
    "管理外匯條例",
    "外匯收支或交易申報辦法",
    "銀行法",
    "洗錢防制物品出入境申報及通報辦法",
    "中央銀行法",
    "大陸地區發行之貨幣進出入臺灣地區許可辦法",
)
USD_CSV = "fx/bot_usd_rates_20141001_20170930.csv"
ISSUE_Q = (
    "客戶（個人）今天要結購 70 萬美元匯出，今年已結購 450 萬美元，"
    "要換多少台幣、要附什麼文件、需不需要央行核准？"
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Container]:
    folder = tmp_path_factory.mktemp("fx_agent")
    data = json.loads((shared_data / "laws" / "ChLaw.json").read_text(encoding="utf-8-sig"))
    laws = folder / "laws.json"
    subset = {"Laws": [law for law in data["Laws"] if law["LawName"] in LAWS]}
    laws.write_text(json.dumps(subset, ensure_ascii=False), encoding="utf-8")
    c = Container(make_settings(folder / "data"))
    c.ingestor.ingest_laws(laws)
    c.retriever.refresh()
    c.fx.import_rates(shared_data / USD_CSV)
    yield c
    c.close()


@pytest.fixture(scope="module")
def teller(desk: Container):
    return desk.users.ensure("fx-teller", "fx")


def test_the_issue_question_end_to_end(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, ISSUE_Q)
    assert (ans.agent, ans.route_method, ans.llm_calls) == ("fx", "keywords", 0)
    # USD 700,000 at the bank's spot selling rate of the last board (2017-09-30: 30.31).
    assert "TWD 21,217,000" in ans.answer and "本行賣出" in ans.answer
    assert "2017-09-30" in ans.answer and "無牌告" in ans.answer  # "today" has no board
    assert "應申報：是" in ans.answer
    assert "應先檢附證明文件經銀行確認：是" in ans.answer
    assert "應先經中央銀行核准：是" in ans.answer  # 4.5M + 0.7M > 5M a year
    cited = {(c.law, c.article) for c in ans.citations}
    assert {("外匯收支或交易申報辦法", "5"), ("外匯收支或交易申報辦法", "6")} <= cited
    assert ("管理外匯條例", "6-1") in cited and all(c.amended for c in ans.citations)
    calls = {t.name: t for t in ans.tool_calls}
    assert calls["fx_convert"].args["side"] == "customer-buys"
    assert calls["fx_check"].args["ytd_usd"] == "4500000"
    record = desk.audit.get(ans.audit_id)
    assert record.agent == "fx" and {t["name"] for t in record.tool_calls} >= {
        "fx_convert",
        "fx_check",
    }


def test_company_selling_on_an_roc_date(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "民國105年3月4日公司要結售 120萬美金，可以換多少台幣？")
    conv = next(t for t in ans.tool_calls if t.name == "fx_convert")
    assert conv.args["on"] == "2016-03-04" and conv.args["side"] == "customer-sells"
    assert "本行買入" in ans.answer and "2016-03-04" in ans.answer
    assert "應先檢附證明文件經銀行確認：是" in ans.answer  # ≥ USD 1M for a company
    assert "應先經中央銀行核准：否" in ans.answer


def test_english_question(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "Customer wants to buy USD 600,000 cash on 2017-01-02")
    assert ans.agent == "fx" and "bank-sells, cash" in ans.answer
    assert (
        "taken as an individual" in ans.answer
        and "Documents checked by the bank first: yes" in ans.answer
    )


def test_rule_question_without_an_amount_is_answered_from_the_regulations(
    desk: Container, teller
) -> None:
    ans = desk.service.ask(teller, "公司行號每年累積結購外匯的免核准額度是多少？")
    assert ans.agent == "fx"
    assert ans.citations[0].law == "外匯收支或交易申報辦法" and ans.citations[0].article == "4"
    assert [t.name for t in ans.tool_calls] == ["search_regulations"]


def test_a_missing_rate_is_said_and_nothing_unrelated_is_cited(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "換 3000 日圓現鈔要多少台幣")
    assert "沒有 JPY 的匯率" in ans.answer and "assistant fx import-rates" in ans.answer
    assert ans.answer.count("沒有 JPY 的匯率") == 1  # both tools fail on it; said once
    assert all(t.name != "search_regulations" for t in ans.tool_calls)
    assert [t.ok for t in ans.tool_calls] == [False, False]


def test_a_malformed_date_is_reported_not_guessed(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "113/02/30 要結購 1萬美元，匯率多少？")
    assert "日期不存在" in ans.answer and ans.tool_calls == []


def test_regulation_questions_still_go_to_compliance(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "行員可以收受借款人給的佣金或酬金嗎？")
    assert ans.agent == "compliance" and ans.route_method == "default"


def test_with_a_model_the_numbers_stay_as_code_wrote_them(desk: Container, teller) -> None:
    llm = ScriptedLLM(["依〔外匯收支或交易申報辦法第6條〕須先經央行核准，金額約 9,999 元。"])
    ans = desk.service_with(llm).ask(teller, ISSUE_Q)
    facts, _, explanation = ans.answer.partition("\n\n依〔")
    assert "TWD 21,217,000" in facts and "9,999" not in facts
    assert ans.generated and ans.llm_calls == 1 and "須先經央行核准" in explanation
    # The model's own figure is dropped with its clause: the teller reads one sum, code's.
    assert "9,999" not in ans.answer and "figure" in ans.dropped
    # The model sees the computed facts and the articles; its system prompt forbids recomputing.
    prompt = llm.prompts[0]
    assert "不得更改或重算" in prompt[0].content and "TWD 21,217,000" in prompt[-1].content


def test_a_board_rate_is_given_as_code_read_it_without_a_model(desk: Container, teller) -> None:
    # No article to explain under a rate: a model asked to explain one invented a figure.
    llm = ScriptedLLM(["美金現鈔今天的買入價是等值一萬美元。"])
    ans = desk.service_with(llm).ask(teller, "美金現鈔今天的買入價是多少？")
    assert ans.agent == "fx" and ans.llm_calls == 0 and llm.prompts == []
    assert "一萬美元" not in ans.answer and "2017-09-30" in ans.answer


@pytest.mark.parametrize(
    ("text", "customer", "side", "kind", "amount", "currency", "ytd"),
    [
        (ISSUE_Q, "individual", "customer-buys", "spot", "700000", "USD", "4500000"),
        ("公司要結售 120萬美金", "company", "customer-sells", "spot", "1200000", "USD", "0"),
        # no buy or sell word: which way the TWD goes says it
        ("個人要把1萬美元換成台幣", "individual", "customer-sells", "spot", "10000", "USD", "0"),
        ("客人拿1萬美元來換新臺幣", "individual", "customer-sells", "spot", "10000", "USD", "0"),
        ("客人拿台幣換1萬美元", "individual", "customer-buys", "spot", "10000", "USD", "0"),
        ("17歲學生要把 60 萬台幣換成美元", "minor", "customer-buys", "spot", "600000", "TWD", "0"),
        (
            "一個十六歲的學生要把五十萬台幣換成美元",
            "minor",
            "customer-buys",
            "spot",
            "500000",
            "TWD",
            "0",
        ),
        (
            "二十六歲的客人要把五十萬台幣換成美元",
            "individual",
            "customer-buys",
            "spot",
            "500000",
            "TWD",
            "0",
        ),
        ("客人要結購八千塊美金", "individual", "customer-buys", "spot", "8000", "USD", "0"),
        (
            "非居住民匯出 15 萬美元現鈔",
            "nonresident",
            "customer-buys",
            "cash",
            "150000",
            "USD",
            "0",
        ),
        ("3000 日圓可以換多少台幣？", "individual", "customer-sells", "spot", "3000", "JPY", "0"),
        (
            "協會今年已結匯 300 萬美元，這次要結購 2.5億日圓",
            "group",
            "customer-buys",
            "spot",
            "250000000",
            "JPY",
            "3000000",
        ),
    ],
)
def test_parse_request(
    text: str, customer: str, side: str, kind: str, amount: str, currency: str, ytd: str
) -> None:
    r = parse_request(text, today=date(2017, 9, 29))
    assert (r.customer, r.side, r.kind) == (customer, side, kind)
    assert (r.amount, r.amount_currency, r.ytd_usd) == (Decimal(amount), currency, Decimal(ytd))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("把 1e400 美元換成台幣", "金額看不懂 / cannot read the amount: '1e400'"),
        ("匯 12345678901234567890 美元", "金額看不懂 / cannot read the amount"),
        ("客戶要匯出 3,000,000,000,000,000 台幣", "金額過大（上限 1,000 兆）/ the amount is"),
        ("convert 600000 XYZ to TWD", "不認得的幣別 / unknown currency: XYZ"),
    ],
)
def test_an_amount_or_currency_that_cannot_be_read_is_said(
    desk: Container, teller, text: str, said: str
) -> None:
    assert said in " ".join(parse_request(text).errors)
    ans = desk.service.ask(teller, text)
    # said as the problem, not answered from the regulations as if no amount were given
    assert ans.agent == "fx" and said in ans.answer and ans.citations == []


def test_fx_tab_in_the_browser(desk: Container) -> None:
    from playwright.sync_api import expect

    from tests.browser import logged_in
    from tests.test_ui import PASSWORD, _free_port
    from ui.app import serve_ui

    user = desk.users.add("fx-browser", "fx", PASSWORD)
    demo = serve_ui(desk, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        with logged_in(demo.local_url, user.name, PASSWORD) as page:
            page.get_by_role("tab", name="外匯").click()
            page.get_by_role("button", name="查詢").click()
            expect(page.locator("#twfin-fx-latest")).to_contain_text("2017-09-30")
            expect(page.locator("#twfin-fx-chart")).to_be_visible()
            page.locator("#twfin-fx-amount input, #twfin-fx-amount textarea").first.fill("70萬")
            page.locator("#twfin-fx-go").click()
            expect(page.locator("#twfin-fx-result")).to_contain_text("TWD 21,217,000")
            amount = page.locator("#twfin-fx-check-amount input, #twfin-fx-check-amount textarea")
            amount.first.fill("70萬")
            page.locator("#twfin-fx-check").click()
            duties = page.locator("#twfin-fx-duties")
            expect(duties).to_contain_text("〔外匯收支或交易申報辦法第5條〕")
            expect(duties).to_contain_text("✔ 申報")
            # the customs check: USD 15,000 and NT$150,000 in notes on one trip
            cash = page.locator("#twfin-fx-carry-cash textarea").first
            cash.fill("1.5萬 USD\n15萬 TWD")
            page.locator("#twfin-fx-carry").click()
            customs = page.locator("#twfin-fx-customs")
            expect(customs).to_contain_text("✔ 應向海關申報：是 / declare to customs: yes")
            expect(customs).to_contain_text("〔洗錢防制物品出入境申報及通報辦法第3條〕")
            expect(customs).to_contain_text("〔中央銀行法第18-1條〕")
            # a line it cannot read is named, and nothing is decided on the rest
            cash.fill("5000 USD\n一些日圓")
            page.locator("#twfin-fx-carry").click()
            expect(customs).to_contain_text("第 2 行 / line 2")
            expect(customs).not_to_contain_text("應向海關申報：")  # no verdict at all
    finally:
        demo.close()


def test_a_rate_question_gets_the_board(desk: Container, teller) -> None:
    ans = desk.service.ask(teller, "2016/6/30 的美元即期牌告是多少？")
    assert [t.name for t in ans.tool_calls] == ["fx_rate"]
    assert "本行買入 32.22500，本行賣出 32.32500（牌告日期 2016-06-30）" in ans.answer
    assert "客戶類型" not in ans.answer


@pytest.mark.skipif(
    not os.environ.get("ASSISTANT_TEST_SMOLLM2"),
    reason="ASSISTANT_TEST_SMOLLM2 is not set (make test installs SmolLM2 and sets it)",
)
def test_a_real_model_explains_without_touching_the_numbers(desk: Container, teller) -> None:
    from assistant.llm.llama_cpp import LlamaCppLLM
    from assistant.llm.script import simplified_share

    llm = LlamaCppLLM(Path(os.environ["ASSISTANT_TEST_SMOLLM2"]), context_size=2048, threads=2)
    ans = desk.service_with(llm).ask(teller, ISSUE_Q)
    assert ans.agent == "fx" and ans.model == llm.name
    facts = ans.answer.split("\n\n")[0]
    assert "TWD 21,217,000" in facts and "應先經中央銀行核准：是" in ans.answer
    labels = {c.label for c in ans.citations}
    assert set(re.findall(r"〔([^〔〕]+)〕", ans.answer)) <= labels
    assert simplified_share(ans.answer) == 0.0 and "⟦" not in ans.answer


@pytest.mark.parametrize(
    ("question", "twd"),
    [
        # The conversion's figure at the bank's spot selling rate (30.31) is the one the duties
        # quote too; a mid-rate equivalent beside it would give the teller two sums to charge.
        ("客戶（個人）要結購 30 萬美元匯出，要換多少台幣、要不要申報？", "9,093,000"),
        # Cash notes at the cash selling rate: the duties use that rate as well.
        ("個人客戶要買 2 萬美元現鈔，要付多少台幣？", None),
    ],
)
def test_one_twd_figure_per_answer(desk: Container, teller, question: str, twd: str | None) -> None:
    ans = desk.service.ask(teller, question)
    calls = {t.name: t for t in ans.tool_calls}
    conv, chk = calls["fx_convert"], calls["fx_check"]
    assert (chk.args["side"], chk.args["kind"]) == (conv.args["side"], conv.args["kind"])
    figures = set(re.findall(r"(?:TWD|新臺幣|新台幣)\s*([\d,]{6,})", ans.answer))
    assert len(figures) == 1, ans.answer
    if twd is not None:
        assert figures == {twd}


@pytest.mark.parametrize(
    ("text", "carried"),
    [
        (
            "客人明天搭飛機去日本，身上要帶一萬二千塊美金現鈔和八萬台幣，出境時要跟海關申報嗎？",
            [("12000", "USD"), ("80000", "TWD")],
        ),
        (
            "Can a traveller carry USD 9,000 and NT$120,000 out of Taiwan?",
            [("9000", "USD"), ("120000", "TWD")],
        ),
        ("要出國留學，想先換一萬美金", []),  # the exchange is asked, not the border
        ("匯出國外 50 萬台幣要申報嗎", []),
    ],
)
def test_cash_across_the_border_is_told_from_a_settlement(
    text: str, carried: list[tuple[str, str]]
) -> None:
    r = parse_request(text)
    assert r.carry == bool(carried) and r.carried == carried


def test_cash_across_the_border_gets_the_customs_duties(desk: Container, teller) -> None:
    ans = desk.service.ask(
        teller, "客人明天搭飛機去日本，身上要帶一萬二千塊美金現鈔和八萬台幣，出境時要跟海關申報嗎？"
    )
    assert ans.agent == "fx" and next(t.name for t in ans.tool_calls) == "fx_carry"
    assert "出入境應向海關申報：是" in ans.answer
    assert "合計等值 12,000.00 美元，逾等值一萬美元" in ans.answer
    assert "新臺幣現鈔 80,000 元，未逾新臺幣十萬元" in ans.answer
    # a settlement's duties would have said 「無須申報」 for the same notes
    assert "應申報：否" not in ans.answer and "fx_check" not in [t.name for t in ans.tool_calls]
    cited = [(c.law, c.article) for c in ans.citations]
    assert cited == [
        ("洗錢防制物品出入境申報及通報辦法", "3"),
        ("洗錢防制物品出入境申報及通報辦法", "4"),
    ]
    assert all(c.amended for c in ans.citations)
    # NT$ notes alone name no foreign currency: customs is what sends the question here.
    twd = desk.service.ask(teller, "客人身上要帶20萬台幣出國，過海關要申報嗎？")
    assert twd.agent == "fx" and "新臺幣現鈔 200,000 元，逾新臺幣十萬元" in twd.answer
    assert ("中央銀行法", "18-1") in [(c.law, c.article) for c in twd.citations]


def test_the_border_thresholds_are_more_than_and_add_up_in_usd(desk: Container) -> None:
    at = desk.fx.check_carry(amounts=[("10000", "USD"), ("100000", "TWD")], on=date(2017, 9, 29))
    assert not at.declare and at.fired == [] and len(at.articles) == 1  # 逾: exactly is not over
    over = desk.fx.check_carry(amounts=[("10000", "USD"), ("100001", "TWD")])
    assert over.declare and over.fired == ["carry-3-twd-cash"]
    assert [(a.law, a.article) for a in over.articles][-1] == ("中央銀行法", "18-1")
    assert "退運" in " ".join(over.notes)


def test_border_check_refuses_what_it_cannot_read(desk: Container) -> None:
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="金額須大於 0"):
        desk.fx.check_carry(amounts=[(Decimal(-5), "USD")])
    with pytest.raises(AssistantError, match="金額看不懂"):
        desk.fx.check_carry(amounts=[("five", "USD")])
    with pytest.raises(AssistantError, match="沒有攜帶金額"):
        desk.fx.check_carry(amounts=[])
    # a currency without a board rate: said, not counted as USD
    with pytest.raises(AssistantError, match="JPY"):
        desk.fx.check_carry(amounts=[("2000000", "JPY")])


def test_mainland_notes_have_their_own_line_and_are_not_added_to_the_foreign_ones(
    desk: Container, teller
) -> None:
    from assistant.fx.border import MAINLAND_RULES

    # RMB 30,000 and USD 9,000: the RMB is not turned into USD and added (the USD-only board
    # has no RMB rate, and the RMB rules keep it apart anyway)
    r = desk.fx.check_carry(amounts=[("30000", "CNY"), ("9000", "USD")], on=date(2017, 9, 29))
    assert r.foreign_usd == Decimal("9000.00") and r.cny == Decimal(30000)
    assert not r.declare and r.answer == (
        "視人民幣公告限額而定",
        "it turns on the announced limit for RMB notes",
    )
    assert "不計入外幣等值一萬美元之額度" in " ".join(r.reasons)
    assert [(a.law, a.article) for a in r.articles][-2:] == [
        (MAINLAND_RULES, "2"),
        (MAINLAND_RULES, "4"),
    ]
    # foreign notes over the line decide it whatever the RMB
    over = desk.fx.check_carry(amounts=[("30000", "CNY"), ("15000", "USD")])
    assert over.declare and over.answer[0] == "是"
    # none carried: the plain answer
    none = desk.fx.check_carry(amounts=[("5000", "USD")])
    assert none.cny is None and none.answer == ("否", "no")
    # asked in the chat: the answer says what it turns on and cites the RMB rules
    ans = desk.service.ask(teller, "客人要帶3萬人民幣去大陸，過海關要申報嗎？")
    assert ans.agent == "fx" and "出入境應向海關申報：視人民幣公告限額而定" in ans.answer
    assert (MAINLAND_RULES, "2") in [(c.law, c.article) for c in ans.citations]


def test_the_border_wording_stands_in_the_corpus(shared_data: Path) -> None:
    from assistant.fx.border import CARRY_RULES, LAW, MAINLAND_RULES, MAINLAND_WORDING
    from knowledge.articles import normalise_article

    data = json.loads((shared_data / "laws" / "ChLaw.json").read_text(encoding="utf-8-sig"))
    text = {
        (law["LawName"], normalise_article(a["ArticleNo"])): a["ArticleContent"]
        for law in data["Laws"]
        if law["LawName"] in (LAW, MAINLAND_RULES)
        for a in law["LawArticles"]
    }
    for rule in CARRY_RULES:
        assert rule.wording in text[(LAW, "3")], rule.id
    for article, wording in MAINLAND_WORDING.items():
        assert wording in text[(MAINLAND_RULES, article)]
    assert "大陸地區發行之貨幣" in text[(LAW, "3")]  # §3 III sends RMB to its own rules


def test_a_model_may_not_say_the_opposite_of_the_duty_code_decided(desk: Container, teller) -> None:
    """Measured with Qwen2.5-Coder-0.5B: 「過海關要申報。」 under code's 「否」. Each clause that
    states the opposite (or either way where it turns on the RMB limit) is dropped."""
    cases = [
        ("客人身上帶5000美元出國，過海關要申報嗎？", "否"),
        ("客人身上帶1.5萬美元出國，過海關要申報嗎？", "是"),
        ("客人要帶3萬人民幣去大陸，過海關要申報嗎？", "視人民幣公告限額而定"),
    ]
    for question, verdict in cases:
        llm = ScriptedLLM(
            [
                "依〔洗錢防制物品出入境申報及通報辦法第3條〕，過海關要申報。無須申報。旅客應填寫登記表。"
            ]
        )
        ans = desk.service_with(llm).ask(teller, question)
        facts, _, said = ans.answer.partition("\n\n依〔")
        assert f"出入境應向海關申報：{verdict}" in facts, question
        assert ("要申報" in said) == (verdict == "是"), question
        assert ("無須申報" in said) == (verdict == "否"), question
        assert "登記表" in said  # a clause that decides nothing stays
        assert "figure" in ans.dropped


def test_a_duty_is_read_either_way_in_both_languages() -> None:
    from agents.figures import agrees_with, states_duty

    assert states_duty("過海關要申報。") is True
    assert states_duty("依規定應向海關申報") is True
    assert states_duty("不需要申報") is False and states_duty("免申報") is False
    assert states_duty("過海關要申報嗎？") is None  # the question repeated
    assert states_duty("The notes must be declared to customs.") is True
    assert states_duty("There is no need to declare them.") is False
    assert states_duty("旅客應填寫登記表") is None
    open_ = agrees_with("open")
    assert not open_("要申報") and not open_("無須申報") and open_("依公告限額判斷")


def test_a_sum_of_notes_reads_either_way_round_or_is_refused() -> None:
    from assistant.errors import AssistantError
    from assistant.fx.border import parse_cash

    assert parse_cash("1.5萬 USD") == (Decimal(15000), "USD")
    assert parse_cash("jpy 三十萬") == (Decimal(300000), "JPY")
    assert parse_cash(" 15萬  TWD ") == (Decimal(150000), "TWD")
    assert parse_cash("3萬CNY") == parse_cash("CNY30000") == (Decimal(30000), "CNY")
    for bad in ("15000", "USD", "1 2 USD", "一些 日圓", ""):
        with pytest.raises(AssistantError, match=r"應為「金額 幣別」.*expected 'AMOUNT CURRENCY'"):
            parse_cash(bad)
    for unreadable in ("many USD", "USD EUR"):
        with pytest.raises(AssistantError, match="金額看不懂"):
            parse_cash(unreadable)
