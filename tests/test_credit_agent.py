"""The credit agent in the graph, on the real MOPS report and the shared knowledge base: the
facility facts read from the question, the draft and its review as a LangGraph interrupt
(approve, edit, reject), a review resumed by a restarted server, refusals and clear errors.

The report is read from ../shared/data (never copied by the test); each draft reads it once
(about 3 s), so the module makes three drafts and one extraction of its own to compare with.
The knowledge base is the session's ``kb`` (銀行法 among its laws): the module's containers
borrow its catalog, retriever and embedder, and keep their conversations, drafts, audit and
checkpoints in a data folder of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from agents.credit.parse import parse_request
from assistant.container import Container
from assistant.credit.memo import fmt_value
from assistant.credit.ratios import RatioReport, compute
from assistant.credit.statements import extract
from assistant.errors import AssistantError, AuthError
from tests.conftest import SHARED, make_settings

PDF = SHARED / "statements" / "2301_202404_AI1.pdf"
QUESTION = "幫我做徵信分析草稿，申請額度 5000 萬，短期營運週轉金，一年期，無擔保"


def _borrowing(kb: Container, data: Path) -> Container:
    """A container on its own data folder that reads the session's knowledge base (Qdrant's
    local mode allows one client per folder, so the kb's own objects are lent)."""
    return Container(
        make_settings(data), lent={name: getattr(kb, name) for name in Container.KNOWLEDGE}
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("credit_agent") / "data"


@pytest.fixture(scope="module")
def desk(kb: Container, data_dir: Path) -> Iterator[Container]:
    c = _borrowing(kb, data_dir)
    yield c
    c.close()


@pytest.fixture(scope="module")
def report() -> RatioReport:
    return compute(extract(PDF))


def test_facility_facts_are_read_from_the_question() -> None:
    req = parse_request(QUESTION)
    assert req.wants_work and not req.about_rules
    assert req.facility == {
        "amount": "50000000",
        "purpose": "營運週轉",
        "tenor_months": 12,
        "collateral": "",
        "guarantors": [],
        "related_party": False,
        "facility_type": "working_capital",
    }
    other = parse_request(
        "中長期授信 1.5億元，期限三年，以廠房設定第一順位抵押權擔保，保證人王大明、李小華，"
        "借款戶為本行利害關係人，用途購置機器設備"
    ).facility
    assert other["amount"] == "150000000" and other["tenor_months"] == 36
    assert other["collateral"] == "廠房設定第一順位抵押權"
    assert other["guarantors"] == ["王大明", "李小華"] and other["related_party"] is True
    assert other["facility_type"] == "medium_long_term" and other["purpose"] == "購置機器設備"
    assert parse_request("借款戶非本行利害關係人，十八個月").facility["related_party"] is False
    assert parse_request("利害關係人授信有什麼限制？").about_rules


@pytest.mark.parametrize(
    ("text", "said", "amount", "tenor"),
    [
        ("授信額度 -5000萬，期間 12 個月", "授信金額須大於 0", None, 12),
        ("授信額度 0 元，期間 12 個月", "授信金額須大於 0", None, 12),
        ("授信額度 1e400，期限 2 年", "授信金額看不懂 / cannot read the facility amount", None, 24),
        (
            "授信額度 5000萬，期間 9999 個月",
            "期限須為 1 到 600 個月 / the tenor must be",
            "50000000",
            None,
        ),
        ("授信額度 5000萬，期限 0 個月", "期限須為 1 到 600 個月", "50000000", None),
    ],
)
def test_terms_that_cannot_be_taken_are_said_and_the_rest_kept(
    text: str, said: str, amount: str | None, tenor: int | None
) -> None:
    req = parse_request(text)
    assert any(said in p for p in req.problems), req.problems
    assert (req.facility["amount"], req.facility["tenor_months"]) == (amount, tenor)


def test_a_draft_says_above_it_what_the_request_could_not_give(
    kb: Container, tmp_path: Path
) -> None:
    own = _borrowing(kb, tmp_path / "data")  # its draft stays out of the other tests' counts
    analyst = own.users.ensure("analyst-terms", "credit")
    try:
        ans = own.service.ask(
            analyst, "請依這份財報草擬徵信報告，授信額度 -5000萬，期間 12 個月", attachments=[PDF]
        )
    finally:
        own.close()
    assert ans.pending and ans.answer.startswith(
        "⚠ 授信金額須大於 0 / the facility amount must be positive: -5000萬"
    )
    assert "金額 未提供 not given；期限 12 個月" in ans.answer


def test_draft_waits_for_review_and_a_restarted_server_approves_it(
    kb: Container, desk: Container, data_dir: Path, report: RatioReport
) -> None:
    analyst = desk.users.ensure("analyst", "credit")
    ans = desk.service.ask(analyst, QUESTION, attachments=[PDF])
    assert ans.agent == "credit" and ans.route_method == "attachment"
    assert [c.name for c in ans.tool_calls] == ["credit_extract", "credit_ratios", "credit_memo"]
    assert all(c.ok for c in ans.tool_calls)
    pending = ans.pending
    assert pending and pending["kind"] == "credit_review"
    assert pending["actions"] == ["approve", "edit", "reject"]
    draft_id = pending["draft_id"]
    row = desk.credit.get(draft_id)
    assert row.status == "draft" and row.created_by == "analyst"
    assert row.inputs["amount"] == "50000000" and row.inputs["facility_type"] == "working_capital"
    assert row.inputs["tenor_months"] == 12 and row.inputs["collateral"] == ""
    assert "待覆核" in ans.answer and f"#{draft_id}" in ans.answer
    assert Path(pending["docx"]).is_file() and pending["docx"] in ans.answer
    # Every key figure in the text is ratios.compute's, with its pages.
    for name in ("current_ratio", "debt_ratio", "interest_coverage"):
        r = report.get(name)
        pages = ", ".join(str(p) for p in sorted({s["page"] for s in r.sources.values()}))
        assert f"| {r.zh} {r.en} | {fmt_value(r.values[0], r.kind)} |" in ans.answer
        assert f"| {pages} |" in ans.answer
    assert "〔銀行法第5條〕" in ans.answer  # the tenor rule, cited from the knowledge base
    assert any(c.label == "銀行法第5條" for c in ans.citations)
    # The stored upload is named by its content, under the user's folder. (A bare glob is a
    # generator, always true: the files are listed and compared.)
    stored = sorted((data_dir / "uploads" / "analyst").glob("*.pdf"))
    assert [p.name for p in stored] == [f"{hashlib.sha256(PDF.read_bytes()).hexdigest()}.pdf"]
    # The paused turn is audited and stored though the audit node has not run yet.
    record = desk.audit.get(ans.audit_id)
    assert record.agent == "credit" and record.tool_calls[2]["name"] == "credit_memo"
    msgs = desk.service.messages(analyst, ans.conversation_id)
    assert msgs[-1].extra["pending"]["draft_id"] == draft_id
    # A new question in the conversation is refused while the review waits.
    with pytest.raises(AssistantError, match="待覆核"):
        desk.service.ask(analyst, "流動比率是多少？", ans.conversation_id)

    # A restarted server: same data folder, new container, new graph and checkpointer.
    again = _borrowing(kb, data_dir)
    try:
        assert again.service.pending(analyst, ans.conversation_id)["draft_id"] == draft_id
        with pytest.raises(AuthError):
            again.service.resume(
                again.users.ensure("fx-reviewer", "fx"),
                ans.conversation_id,
                {"action": "approve", "note": ""},
            )
        done = again.service.resume(
            analyst, ans.conversation_id, {"action": "approve", "note": "財務結構穩健"}
        )
        assert again.credit.get(draft_id).status == "approved"
        assert done.pending is None and done.agent == "credit"
        assert "已核准" in done.answer and "財務結構穩健" in done.answer
        final = Path(again.credit.memo_dir / f"credit-memo-{draft_id}-final.md")
        assert final.is_file() and str(final) in done.answer
        assert final.read_text(encoding="utf-8") == again.credit.get(draft_id).final_markdown
        # No second draft: the resumed run did not read the report again.
        assert [c.name for c in done.tool_calls] == [
            "credit_extract",
            "credit_ratios",
            "credit_memo",
        ]
        assert len(again.credit.drafts()) == 1
        actions = [
            r
            for r in again.audit.recent(20)
            if r.route_method == "action" and r.conversation_id == ans.conversation_id
        ]
        # The agent's tools and the decision went through the credit desk, which recorded
        # each against the conversation (newest first).
        assert [a.tool_calls[0]["name"] for a in actions] == [
            "credit.approve",
            "credit.draft",
            "credit.extract",
        ]
        assert actions[0].tool_calls[0]["args"]["memo_id"] == draft_id
        assert actions[0].tool_calls[0]["args"]["final_markdown"] == final.read_text("utf-8")
        assert actions[1].tool_calls[0]["args"]["memo_id"] == draft_id
        # The fx role's attempt to decide was refused by the desk and recorded there.
        denied = [
            r
            for r in again.audit.recent(50, user_name="fx-reviewer")
            if r.tool_calls and r.tool_calls[0]["name"] == "access_denied"
        ]
        assert [d.tool_calls[0]["args"]["operation"] for d in denied] == ["credit.decide"]
        assert denied[0].agent == "credit"
        turn = again.audit.get(done.audit_id)  # the audit node's record of the decided turn
        assert turn.question.startswith(f"覆核徵信報告草稿 #{draft_id}：核准")
        assert again.service.pending(analyst, ans.conversation_id) is None

        # 「用剛剛那份報表」: the conversation's report, not uploaded again; then rejected.
        second = again.service.ask(
            analyst, "用剛剛那份報表再算一次，申請額度 1 億元，兩年期", ans.conversation_id
        )
        assert second.pending and second.pending["draft_id"] != draft_id
        memo = again.credit.get(second.pending["draft_id"])
        assert memo.inputs["amount"] == "100000000" and memo.inputs["tenor_months"] == 24
        with pytest.raises(AssistantError, match="理由"):
            again.service.resume(analyst, ans.conversation_id, {"action": "reject", "note": ""})
        rejected = again.service.resume(
            analyst, ans.conversation_id, {"action": "reject", "note": "期限超過一年，請改為中期"}
        )
        assert again.credit.get(memo.id).status == "rejected"
        assert "已退回" in rejected.answer and "期限超過一年" in rejected.answer
        names = [
            r.tool_calls[0]["name"] for r in again.audit.recent(20) if r.route_method == "action"
        ]
        assert "credit.reject" in names
    finally:
        again.close()


def test_edit_stores_the_edited_text(desk: Container) -> None:
    analyst = desk.users.ensure("analyst-edit", "credit")
    ans = desk.service.ask(analyst, QUESTION, attachments=[PDF])
    edited = ans.pending["markdown"] + "\n\n覆核人補充：請追蹤應收帳款天數。\n"
    done = desk.service.resume(
        analyst, ans.conversation_id, {"action": "edit", "markdown": edited, "note": "補充意見"}
    )
    row = desk.credit.get(ans.pending["draft_id"])
    assert row.status == "approved" and "請追蹤應收帳款天數" in row.final_markdown
    assert "修改後內容" in done.answer


def test_other_roles_are_refused(desk: Container) -> None:
    officer = desk.users.ensure("fx-officer", "fx")
    ans = desk.service.ask(officer, QUESTION, attachments=[PDF])
    assert ans.agent == "credit" and ans.refused and "不能使用徵信助理" in ans.answer
    assert ans.tool_calls == [] and ans.pending is None
    assert desk.audit.get(ans.audit_id).refused
    ans = desk.service.ask(officer, QUESTION)  # by the keyword 徵信, without a report
    assert ans.agent == "credit" and ans.refused


def test_bad_files_and_missing_reports_are_said(desk: Container, tmp_path: Path) -> None:
    analyst = desk.users.ensure("analyst-errors", "credit")
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    ans = desk.service.ask(analyst, QUESTION, attachments=[junk])
    assert ans.pending is None and "未製作草稿" in ans.answer
    assert ans.tool_calls[0].name == "credit_extract" and not ans.tool_calls[0].ok
    assert desk.credit.drafts() == [] or all(
        d.file_name != "junk.pdf" for d in desk.credit.drafts()
    )
    text = tmp_path / "report.txt"
    text.write_text("not a pdf", encoding="utf-8")
    with pytest.raises(AssistantError, match="只接受 PDF"):
        desk.service.ask(analyst, QUESTION, attachments=[text])
    ans = desk.service.ask(analyst, QUESTION)  # no report in this conversation
    assert "請先上傳公司財報" in ans.answer and ans.tool_calls == [] and ans.pending is None


def test_rule_questions_are_answered_from_the_regulations(desk: Container) -> None:
    analyst = desk.users.ensure("analyst-rules", "credit")
    ans = desk.service.ask(analyst, "徵信時，對利害關係人授信有什麼限制？")
    assert ans.agent == "credit" and ans.pending is None
    assert [c.name for c in ans.tool_calls] == ["search_regulations"]
    assert any(c.law == "銀行法" and c.article in ("32", "33") for c in ans.citations)
    # Without a word of credit work it is the compliance agent's, for every role.
    plain = desk.service.ask(analyst, "利害關係人授信有什麼限制？")
    assert plain.agent == "compliance"
    assert any(c.law == "銀行法" for c in plain.citations)
    assert Decimal(parse_request("額度 5000 萬").facility["amount"]) == 50_000_000


def test_ui_api_uploads_a_report_and_reviews_the_draft(desk: Container) -> None:
    from gradio_client import Client, handle_file

    from tests.test_ui import PASSWORD, _free_port
    from ui.app import serve_ui

    user = desk.users.add("ui-analyst", "credit", PASSWORD)
    demo = serve_ui(desk, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, auth=(user.name, PASSWORD), verbose=False)
        ans = client.predict(QUESTION, handle_file(str(PDF)), None, api_name="/ask_with_file")
        assert ans["agent"] == "credit" and ans["pending"]["kind"] == "credit_review"
        draft_id = ans["pending"]["draft_id"]
        # A path on the server named by the client is not read: only uploads are.
        with pytest.raises(Exception, match="上傳"):
            client.predict(QUESTION, str(PDF), None, api_name="/ask_with_file")
        done = client.predict(ans["conversation_id"], "approve", None, "可", api_name="/review")
        assert done["pending"] is None and "已核准" in done["answer"]
        assert desk.credit.get(draft_id).status == "approved"
    finally:
        demo.close()


def test_cli_asks_with_a_report_and_reviews(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from assistant.cli import cli
    from tests.test_ui import PASSWORD

    def run(*args: str) -> str:
        # The CLI acts as a logged-in user: --user with ASSISTANT_PASSWORD.
        result = CliRunner().invoke(
            cli,
            ["--data-dir", str(tmp_path / "data"), *args],
            env={"ASSISTANT_PASSWORD": PASSWORD},
        )
        assert result.exit_code == 0, result.output
        return result.output

    c = Container(make_settings(tmp_path / "data"))
    try:
        c.users.add("cli-analyst", "credit", PASSWORD)
        c.users.add("cli-fx", "fx", PASSWORD)
    finally:
        c.close()
    ans = json.loads(run("ask", QUESTION, "--attach", str(PDF), "--user", "cli-analyst", "--json"))
    assert ans["pending"]["kind"] == "credit_review"
    conv = ans["conversation_id"]
    assert f"#{ans['pending']['draft_id']}" in run("review", conv, "--user", "cli-analyst")
    # A role that may not decide is refused, and the draft still waits.
    refused = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path / "data"), "review", conv, "--approve", "--user", "cli-fx"],
        env={"ASSISTANT_PASSWORD": PASSWORD},
    )
    assert refused.exit_code != 0 and "credit.decide" in refused.output
    out = run("review", conv, "--reject", "--note", "資料不足", "--user", "cli-analyst")
    assert "已退回" in out and "資料不足" in out


def _train_pd(data: Path, columns: list[str], seed: int) -> None:
    """A PD model on a synthetic table with these columns (default risk falls with the first
    column), saved where the credit agent looks for it."""
    import numpy as np

    from assistant.credit.scoring import model_path, train

    rng = np.random.default_rng(seed)
    n = 600
    X = rng.normal(size=(n, len(columns)))
    y = (rng.random(n) < 1 / (1 + np.exp(2 * X[:, 0]))).astype(int)
    csv = data / f"pd-{seed}.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join([*columns, "DEFAULT"])]
    lines += [",".join([*(f"{v:.4f}" for v in row), str(t)]) for row, t in zip(X, y, strict=True)]
    csv.write_text("\n".join(lines), encoding="utf-8")
    train(csv, "DEFAULT", model_path(data))


def test_a_pd_model_on_statement_columns_scores_the_borrower(kb: Container, tmp_path: Path) -> None:
    c = _borrowing(kb, tmp_path / "data")
    try:
        analyst = c.users.ensure("analyst-pd", "credit")
        _train_pd(tmp_path / "data", ["current_ratio", "debt_ratio", "net_income"], seed=1)
        ans = c.service.ask(analyst, QUESTION, attachments=[PDF])
        names = [t.name for t in ans.tool_calls]
        assert names == ["credit_extract", "credit_ratios", "credit_score", "credit_memo"]
        assert ans.tool_calls[2].ok and "違約機率" in ans.answer
        # A model of card holders (other columns) is said not to fit, and the draft goes on.
        _train_pd(tmp_path / "data", ["LIMIT_BAL", "PAY_0"], seed=2)
        ans = c.service.ask(analyst, QUESTION, attachments=[PDF])
        score = next(t for t in ans.tool_calls if t.name == "credit_score")
        assert not score.ok and "LIMIT_BAL" in score.summary
        assert ans.pending and ans.pending["draft_id"]
    finally:
        c.close()


def test_quarterly_report_after_the_annual_one_is_checked_against_it(desk: Container) -> None:
    # The conversation's reports are the ones loaded together: the Q1 report of 2025 uploaded
    # after the same company's annual report of 2024 is checked against it on 2024-12-31.
    annual = SHARED / "statements" / "mops" / "202404_1587_AI1.pdf"
    quarter = SHARED / "statements" / "mops" / "202501_1587_AI1.pdf"
    analyst = desk.users.ensure("analyst-quarters", "credit")
    first = desk.service.ask(analyst, QUESTION, attachments=[annual])
    assert [c.name for c in first.tool_calls] == ["credit_extract", "credit_ratios", "credit_memo"]
    desk.service.resume(analyst, first.conversation_id, {"action": "approve", "note": "同意"})
    second = desk.service.ask(analyst, QUESTION, first.conversation_id, attachments=[quarter])
    assert [c.name for c in second.tool_calls] == [
        "credit_extract",
        "credit_cross_check",
        "credit_ratios",
        "credit_memo",
    ]
    assert all(c.ok for c in second.tool_calls)
    check = second.tool_calls[1]
    assert check.args["others"] == f"{hashlib.sha256(annual.read_bytes()).hexdigest()}.pdf"
    assert check.summary.endswith("0 disagree") and not check.summary.startswith("0 compared")
    assert "跨報告勾稽 cross-report check" in second.answer and "0 不符" in second.answer
    # The quarter is labelled and its annualised ratios said to be.
    assert "2025-01-01～2025-03-31 第 1 季（即年初至今）3 個月" in second.answer
    assert "期中報告" in second.answer and "annualised" in second.answer
    assert "本期 current period 2025-03-31" in second.answer


@pytest.mark.parametrize(
    "question",
    [
        "流動比率是多少？",
        "From the attached report, compute the current ratio and the debt ratio with pages.",
        "附件這份財報請幫我整理重點",
    ],
)
def test_figures_asked_for_are_computed_and_nothing_is_drafted(
    desk: Container, question: str
) -> None:
    """A report's figures asked about: read and computed with their pages; no memo is drafted
    and nothing waits for a review (a draft is made only when one is asked for)."""
    analyst = desk.users.ensure("analyst-figures", "credit")
    before = len(desk.credit.drafts(limit=10_000))
    ans = desk.service.ask(analyst, question, attachments=[PDF])
    assert ans.agent == "credit" and not ans.refused and ans.pending is None
    assert [c.name for c in ans.tool_calls] == ["credit_extract", "credit_ratios"]
    assert "流動比率" in ans.answer and "未撰寫徵信報告草稿" in ans.answer
    assert len(desk.credit.drafts(limit=10_000)) == before
    # The next question in the conversation is not blocked by a pending review.
    again = desk.service.ask(
        analyst, "幫我做徵信分析草稿，申請額度 3000 萬，一年期", ans.conversation_id
    )
    assert [c.name for c in again.tool_calls][-1] == "credit_memo" and again.pending
