"""The 5P credit memo: composition from a real MOPS report, the lending rules table against the
law corpus, articles cited from a real knowledge base, maker-checker, and the CLI.

The report is read once per module (extraction takes seconds); the knowledge base is the shared
``kb`` fixture (銀行法 among its laws). Drafts are stored in a database of the module's own, so
the shared knowledge base stays read-only.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document as open_docx
from sqlalchemy import Engine

from assistant.cli import cli
from assistant.cli_credit import parse_amount
from assistant.container import Container
from assistant.credit.memo import (
    DECIMALS,
    SECTION_HEADINGS,
    Memo,
    Thresholds,
    compose,
)
from assistant.credit.memo_doc import Table
from assistant.credit.memo_docx import to_docx, to_markdown
from assistant.credit.ratios import RatioReport, compute
from assistant.credit.rules import (
    BANKING_ACT,
    RULES,
    Facility,
    applicable,
    facility_type,
)
from assistant.credit.schema import ITEMS
from assistant.credit.service import CreditService
from assistant.credit.statements import Extraction, extract
from assistant.errors import AssistantError, AuthError, NotFound
from assistant.schema import open_engine
from tests.conftest import SHARED, make_settings

PDF = SHARED / "statements" / "2301_202404_AI1.pdf"

WORKING_CAPITAL = Facility(
    amount=Decimal(50_000_000),
    purpose="購料週轉",
    tenor_months=12,
    collateral="",
    guarantors=(),
    facility_type="working_capital",
)
RELATED = Facility(
    amount=Decimal(80_000_000),
    purpose="購置機器設備",
    tenor_months=60,
    collateral="廠房第一順位抵押權",
    guarantors=("王大明", "李小華"),
    related_party=True,
    facility_type="medium_long_term",
)
HOUSING = Facility(
    amount=Decimal(12_000_000),
    purpose="購置自用住宅",
    tenor_months=480,
    collateral="臺北市住宅一戶",
    guarantors=("陳保證",),
    facility_type="housing",
)


@pytest.fixture(scope="module")
def x() -> Extraction:
    return extract(PDF)


@pytest.fixture(scope="module")
def report(x: Extraction) -> RatioReport:
    return compute(x)


@pytest.fixture(scope="module")
def law_text(shared_data: Path) -> dict[tuple[str, str], str]:
    from knowledge.articles import normalise_article

    data = json.loads((shared_data / "laws" / "ChLaw.json").read_text(encoding="utf-8-sig"))
    return {
        (law["LawName"], normalise_article(a["ArticleNo"])): a["ArticleContent"]
        for law in data["Laws"]
        if law["LawName"] == BANKING_ACT
        for a in law["LawArticles"]
        if a["ArticleType"] == "A"
    }


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    folder = tmp_path_factory.mktemp("credit_db")
    return open_engine(f"sqlite:///{folder / 'app.db'}")


def service(engine: Engine, kb: Container, tmp: Path, four_eyes: bool = False) -> CreditService:
    return CreditService(engine, kb.catalog, tmp, four_eyes=four_eyes)


def memo_for(x: Extraction, report: RatioReport, f: Facility, kb: Container, **kw) -> Memo:
    return compose(x, report, f, applicable(f, kb.catalog), **kw)


def tables(memo: Memo) -> list[Table]:
    return [t for s in memo.document.sections for t in s.tables]


def rule_ids(f: Facility) -> set[str]:
    return {a.rule.id for a in applicable(f)}


# ---------------------------------------------------------------- rules table


def test_rules_table_is_the_corpus_wording(law_text: dict[tuple[str, str], str]) -> None:
    """Each row quotes its article verbatim: an amendment that changes the sentence fails here."""
    assert len({r.id for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.law == BANKING_ACT
        text = law_text[(rule.law, rule.article)]
        assert rule.wording in text, rule.id
        if rule.clause.startswith("第3項"):
            assert rule.wording in text.splitlines()[2], rule.id


def test_which_rules_apply_is_decided_from_the_facts() -> None:
    plain = rule_ids(WORKING_CAPITAL)
    assert plain == {
        "bank-5-term",
        "bank-13-unsecured",
        "bank-36-unsecured-limits",
        "bank-33-3-one-borrower",
    }
    related = rule_ids(RELATED)
    assert {"bank-32-related-unsecured", "bank-33-related-secured"} <= related
    assert {"bank-33-1-related-definition", "bank-12-secured", "bank-72-medium-term"} <= related
    assert "bank-12-1-guarantor-limit" in related
    assert not {"bank-13-unsecured", "bank-36-unsecured-limits", "bank-38-housing-term"} & related
    housing = rule_ids(HOUSING)
    assert {
        "bank-38-housing-term",
        "bank-72-2-real-estate",
        "bank-12-1-housing-guarantor",
        "bank-12-2-housing-guarantee-term",
    } <= housing
    assert not {"bank-32-related-unsecured", "bank-72-medium-term"} & housing  # 40 y is long


def test_rule_flags_state_the_fact_and_threshold() -> None:
    assert not [a.flag for a in applicable(WORKING_CAPITAL) if a.flag]
    unsecured = Facility(related_party=True, facility_type="working_capital", tenor_months=24)
    flags = {a.rule.id: a.flag for a in applicable(unsecured) if a.flag}
    assert "第32條" in flags["bank-32-related-unsecured"]
    assert "12 個月" in flags["bank-5-term"] and "中期信用" in flags["bank-5-term"]
    secured = {a.rule.id for a in applicable(RELATED) if a.flag}
    assert "bank-32-related-unsecured" not in secured  # fully secured: allowed, §33 terms apply
    housing = {a.rule.id: a.flag for a in applicable(HOUSING) if a.flag}
    assert "360 個月" in housing["bank-38-housing-term"]
    assert "陳保證" in housing["bank-12-1-housing-guarantor"]


def test_facility_type_accepts_chinese_names() -> None:
    assert facility_type("短期營運週轉金") == "working_capital"
    assert facility_type("中長期") == "medium_long_term"
    assert facility_type("購置住宅") == "housing"
    assert facility_type("medium-long-term") == "medium_long_term"
    with pytest.raises(AssistantError):
        facility_type("信用卡")


def test_amounts_in_wan_and_yi() -> None:
    assert parse_amount("5000萬") == Decimal(50_000_000)
    assert parse_amount("1.5億") == Decimal(150_000_000)
    assert parse_amount("3億2千萬") == Decimal(320_000_000)
    assert parse_amount("50,000,000") == Decimal(50_000_000)
    import click

    for bad in ("abc", "5000萬和3000萬", "USD 500"):
        with pytest.raises(click.BadParameter):
            parse_amount(bad)


# ---------------------------------------------------------------- the memo


def test_five_sections_in_order_with_the_analysts_inputs(
    x: Extraction, report: RatioReport, kb: Container
) -> None:
    memo = memo_for(x, report, RELATED, kb)
    assert [s.heading for s in memo.document.sections] == list(SECTION_HEADINGS)
    md = to_markdown(memo.document)
    positions = [md.index(f"## {h}") for h in SECTION_HEADINGS]
    assert positions == sorted(positions)
    for text in ("80,000,000", "購置機器設備", "60 個月", "廠房第一順位抵押權", "王大明", "李小華"):
        assert text in md, text
    assert "中長期授信" in md and "中期信用" in md
    assert "本行利害關係人 related party of the bank：是" in md
    assert x.company and x.company in md


def test_ratio_values_and_pages_are_the_computed_ones(
    x: Extraction, report: RatioReport, kb: Container
) -> None:
    memo = memo_for(x, report, WORKING_CAPITAL, kb)
    rows = {
        row[0]: row
        for t in tables(memo)
        if t.header[:2] == ["比率 ratio", "單位 unit"]
        for row in t.rows
    }
    assert len(rows) == len(report.ratios)
    for r in report.ratios:
        row = rows[f"{r.zh} {r.en}"]
        for i, v in enumerate(r.values):
            cell = row[2 + i]
            if v is None:
                assert cell == "—"
            else:
                assert float(cell.replace(",", "")) == pytest.approx(v, abs=10 ** -DECIMALS[r.kind])
        assert row[-2].startswith(r.formula_zh)
        pages = sorted({s["page"] for s in r.sources.values()})
        assert row[-1] == ", ".join(map(str, pages))


def test_key_figures_carry_their_pages(x: Extraction, report: RatioReport, kb: Container) -> None:
    memo = memo_for(x, report, WORKING_CAPITAL, kb)
    keys = [t for t in tables(memo) if t.header[:3] == ["項目 item", "報表 statement", "頁次 page"]]
    assert len(keys) == 2  # balances at each date; flows over each span
    assert sum(len(t.rows) for t in keys) >= 10
    by_label = {row[0]: row for t in keys for row in t.rows}
    for name in ("total_assets", "revenue", "operating_cash_flow", "net_income"):
        item = x.items[name]
        row = by_label[f"{ITEMS[name].zh} {ITEMS[name].en}"]
        assert row[2] == str(item.page)
        assert row[3] == f"{item.values[0]:,.0f}"
    md = to_markdown(memo.document)
    ocf = x.items["operating_cash_flow"]
    assert f"{ocf.values[0]:,.0f} 元（第 {ocf.page} 頁）" in md


def test_related_party_cites_32_33_from_the_knowledge_base(
    x: Extraction, report: RatioReport, kb: Container, law_text: dict[tuple[str, str], str]
) -> None:
    memo = memo_for(x, report, RELATED, kb)
    protection = memo.document.sections[3]
    cited = [c.text for c in protection.citations]
    assert any(c.startswith("銀行法第32條") for c in cited)
    assert any(c.startswith("銀行法第33條") for c in cited)
    assert all("修正日期 amended 2023-06-28" in c for c in cited)
    rules = protection.tables[0]
    row32 = next(r for r in rules.rows if r[0].startswith("銀行法第32條"))
    # the article as the knowledge base holds it (ingestion normalises line ends)
    assert row32[3].split() == law_text[(BANKING_ACT, "32")].split()
    assert row32[4] == "2023-06-28"
    assert "知識庫未收錄" not in to_markdown(memo.document)


def test_housing_loan_cites_its_rules_and_working_capital_does_not(
    x: Extraction, report: RatioReport, kb: Container
) -> None:
    housing = to_markdown(memo_for(x, report, HOUSING, kb).document)
    for label in ("銀行法第38條", "銀行法第72-2條", "銀行法第12-1條", "銀行法第12-2條"):
        assert label in housing, label
    assert "法規警示 rule flag" in housing and "480 個月" in housing
    plain = to_markdown(memo_for(x, report, WORKING_CAPITAL, kb).document)
    for label in (
        "銀行法第38條",
        "銀行法第72-2條",
        "銀行法第12-1條",
        "銀行法第32條",
        "銀行法第33條",
    ):
        assert label not in plain, label
    assert "銀行法第5條" in plain and "銀行法第33-3條" in plain


def test_articles_missing_from_the_knowledge_base_are_said_so(
    x: Extraction, report: RatioReport
) -> None:
    memo = compose(x, report, RELATED, applicable(RELATED, None))
    md = to_markdown(memo.document)
    assert "知識庫未收錄此條文 / not in the knowledge base" in md
    assert not memo.document.sections[3].citations  # nothing cited that was not fetched
    assert "應有十足擔保" not in md  # the code's quote is not passed off as retrieved text


def test_payment_debt_service_is_a_labelled_estimate(
    x: Extraction, report: RatioReport, kb: Container
) -> None:
    memo = memo_for(x, report, RELATED, kb)
    ds = memo.debt_service
    assert ds is not None
    assert ds["annual_principal"] == 16_000_000  # 8000 萬 over 60 months
    ocf = x.items["operating_cash_flow"].values[0]
    assert ds["operating_cash_flow_annualised"] == float(ocf)  # a 12-month report
    assert ds["coverage"] == round(float(ocf) / 16_000_000, 2)
    payment = memo.document.sections[2]
    caption = next(t.caption for t in payment.tables if t.caption and "償債能力試算" in t.caption)
    assert "計算估計值 computed estimate" in caption
    no_tenor = memo_for(x, report, Facility(amount=Decimal(1)), kb)
    assert no_tenor.debt_service is None
    assert "未試算償債能力" in to_markdown(no_tenor.document)


def test_flags_are_facts_with_configurable_thresholds(
    x: Extraction, report: RatioReport, kb: Container
) -> None:
    memo = memo_for(x, report, WORKING_CAPITAL, kb)
    assert memo.flags == []
    assert "財務指標未觸及警示門檻" in to_markdown(memo.document)
    strict = Thresholds(
        current_ratio_min=2.0,
        debt_ratio_max=50.0,
        interest_coverage_min=20.0,
        operating_cash_flow_min=1e12,
        debt_service_min=1e6,
    )
    flagged = memo_for(x, report, WORKING_CAPITAL, kb, thresholds=strict)
    ids = {f.id for f in flagged.flags}
    assert ids == {
        "current_ratio",
        "debt_ratio",
        "interest_coverage",
        "operating_cash_flow",
        "debt_service",
    }
    current = report.get("current_ratio").values[0]
    text = next(f.text for f in flagged.flags if f.id == "current_ratio")
    assert f"{current:.2f} 倍 < 門檻 2.00 倍" in text and "第 8 頁" in text
    md = to_markdown(flagged.document)
    assert md.count("警示 flag：") == 5


def test_docx_reopens_with_its_tables(
    x: Extraction, report: RatioReport, kb: Container, tmp_path: Path
) -> None:
    memo = memo_for(x, report, RELATED, kb)
    path = to_docx(memo.document, tmp_path / "memo.docx")
    d = open_docx(str(path))
    assert len(d.tables) == len(tables(memo))
    texts = [p.text for p in d.paragraphs]
    for heading in SECTION_HEADINGS:
        assert heading in texts
    cells = {c.text for t in d.tables for row in t.rows for c in row.cells}
    assert "流動比率 current ratio" in cells and "銀行法第33條第1項" in cells


# ---------------------------------------------------------------- maker-checker


def test_draft_then_approve_with_an_edit(
    x: Extraction, engine: Engine, kb: Container, tmp_path: Path
) -> None:
    svc = service(engine, kb, tmp_path)
    d = svc.draft(PDF, RELATED, user="analyst", markdown_path=tmp_path / "m.md", extraction=x)
    assert d.docx_path == tmp_path / "credit" / "memos" / f"credit-memo-{d.id}.docx"
    assert d.docx_path.is_file() and (tmp_path / "m.md").read_text(encoding="utf-8") == d.markdown
    assert f"草稿編號 draft id**：{d.id}" in d.markdown
    row = svc.get(d.id)
    assert (row.status, row.created_by, row.file_name) == ("draft", "analyst", PDF.name)
    assert len(row.file_sha256) == 64 and row.inputs == RELATED.to_dict()
    assert row.markdown == d.markdown and row.final_markdown is None
    edited = d.markdown.replace("購置機器設備", "購置機器設備（已與客戶確認）")
    decision = svc.approve(d.id, "analyst", edited_markdown=edited, note="已覆核")
    assert (decision.status, decision.edited, decision.checker) == ("approved", True, "analyst")
    assert decision.final_markdown is not None and "（已與客戶確認）" in decision.final_markdown
    assert "已核准 approved（覆核人 checker analyst" in decision.final_markdown
    assert "待授信人員覆核" not in decision.final_markdown
    assert decision.audit_args()["final_sha256"] and decision.audit_args()["memo_id"] == d.id
    row = svc.get(d.id)
    assert (row.status, row.decided_by, row.note) == ("approved", "analyst", "已覆核")
    assert row.final_markdown == decision.final_markdown and row.markdown == d.markdown
    assert row.decided_at is not None
    with pytest.raises(AssistantError, match="already approved"):
        svc.reject(d.id, "boss", "太晚了")


def test_reject_needs_a_note_and_keeps_no_final_text(
    x: Extraction, engine: Engine, kb: Container, tmp_path: Path
) -> None:
    svc = service(engine, kb, tmp_path)
    d = svc.draft(PDF, WORKING_CAPITAL, user="analyst", extraction=x)
    with pytest.raises(AssistantError):
        svc.reject(d.id, "analyst", "  ")
    decision = svc.reject(d.id, "analyst", "缺少擔保品估價報告")
    assert decision.status == "rejected" and decision.final_markdown is None
    row = svc.get(d.id)
    assert (row.status, row.note, row.final_markdown) == ("rejected", "缺少擔保品估價報告", None)
    assert svc.drafts("rejected")[0].id == d.id


def test_four_eyes_refuses_the_maker(
    x: Extraction, engine: Engine, kb: Container, tmp_path: Path
) -> None:
    svc = service(engine, kb, tmp_path, four_eyes=True)
    d = svc.draft(PDF, WORKING_CAPITAL, user="analyst", extraction=x)
    with pytest.raises(AuthError):
        svc.approve(d.id, "analyst")
    assert svc.get(d.id).status == "draft"
    decision = svc.approve(d.id, "supervisor")
    assert (decision.maker, decision.checker, decision.edited) == ("analyst", "supervisor", False)
    assert decision.final_markdown is not None
    assert decision.final_markdown.split("\n")[4:] == d.markdown.split("\n")[4:]  # body unchanged


def test_unknown_draft_id(engine: Engine, kb: Container, tmp_path: Path) -> None:
    svc = service(engine, kb, tmp_path)
    for call in (
        lambda: svc.get(999_999),
        lambda: svc.approve(999_999, "analyst"),
        lambda: svc.reject(999_999, "analyst", "x"),
    ):
        with pytest.raises(NotFound):
            call()


# ---------------------------------------------------------------- CLI


PASSWORD = "correct-horse-42"


def analyst(data: Path, name: str = "cli-analyst", role: str = "credit") -> str:
    """A user the CLI logs in as (the credit commands read a borrower's report or decide)."""
    c = Container(make_settings(data))
    try:
        c.users.add(name, role, PASSWORD)
    finally:
        c.close()
    return name


def run(data: Path, *args: str, user: str | None = "cli-analyst") -> tuple[int, str]:
    who = ["--user", user] if user else []
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), *who, *args], env={"ASSISTANT_PASSWORD": PASSWORD}
    )
    return result.exit_code, result.output


def test_cli_memo_drafts_review_on_an_empty_knowledge_base(tmp_path: Path) -> None:
    data = tmp_path / "data"
    analyst(data)
    # Without a user nothing is read or drafted; a role without credit work is refused.
    code, text = run(data, "credit", "drafts", user=None)
    assert code == 1 and "--user" in text
    analyst(data, "cli-fx", "fx")
    code, text = run(data, "credit", "drafts", user="cli-fx")
    assert code == 1 and "credit.read" in text
    out = tmp_path / "memo.docx"
    md = tmp_path / "memo.md"
    code, text = run(
        data, "credit", "memo", str(PDF), "--amount", "5000萬", "--purpose", "購料週轉",
        "--tenor-months", "12", "--guarantor", "王大明", "--guarantor", "李小華",
        "--related-party", "--facility-type", "短期營運週轉金", "--out", str(out),
        "--markdown", str(md), "--json",
    )  # fmt: skip
    assert code == 0, text
    draft = json.loads(text)
    assert draft["status"] == "draft" and draft["docx"] == str(out)
    assert draft["inputs"]["amount"] == "50000000"
    assert draft["inputs"]["guarantors"] == ["王大明", "李小華"]
    assert draft["inputs"]["facility_type"] == "working_capital"
    assert out.is_file() and len(open_docx(str(out)).tables) > 5
    memo = md.read_text(encoding="utf-8")
    # a fresh data folder has no knowledge base: the memo is still made, and says so
    assert "知識庫未收錄此條文 / not in the knowledge base" in memo
    assert "銀行法第32條" in memo and "50,000,000" in memo
    assert all(not r["in_knowledge_base"] for r in draft["rules"])

    code, text = run(data, "credit", "drafts", "--json")
    assert code == 0, text
    listed = json.loads(text)
    assert [(r["id"], r["status"]) for r in listed] == [(draft["id"], "draft")]

    edit = tmp_path / "edited.md"
    edit.write_text(memo + "\n覆核意見：同意。\n", encoding="utf-8")
    code, text = run(
        data, "credit", "review", str(draft["id"]), "--approve", "--edit", str(edit),
        "--note", "同意", "--json",
    )  # fmt: skip
    assert code == 0, text
    decision = json.loads(text)
    assert decision["status"] == "approved" and decision["edited"] is True
    assert decision["final_markdown"].endswith("覆核意見：同意。\n")

    code, text = run(data, "credit", "drafts")
    assert code == 0 and "approved" in text
    code, text = run(data, "credit", "review", "4242", "--reject", "--note", "x")
    assert code == 1 and "no such credit memo" in text
    code, text = run(data, "credit", "review", str(draft["id"]), "--reject", "--note", "x")
    assert code == 1 and "already approved" in text


def test_cli_memo_text_output(tmp_path: Path) -> None:
    data = tmp_path / "data"
    analyst(data)
    code, text = run(
        data, "credit", "memo", str(PDF), "--amount", "1.5億", "--tenor-months", "480",
        "--collateral", "住宅一戶", "--guarantor", "陳保證", "--facility-type", "housing",
        "--out", str(tmp_path / "h.docx"),
    )  # fmt: skip
    assert code == 0, text
    assert "草稿 draft 1" in text and str(tmp_path / "h.docx") in text
    assert "銀行法第38條" in text and "知識庫未收錄" in text
    code, text = run(data, "credit", "review", "1", "--reject")
    assert code == 1 and "note" in text
    code, text = run(data, "credit", "memo", str(PDF), "--amount", "很多", "--out", "x.docx")
    assert code == 2 and "not an amount" in text
