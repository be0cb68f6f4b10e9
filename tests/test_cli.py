"""The command line as a script would use it: exit codes, --json, clear errors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.container import Container
from tests.cli_users import login_env
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]) -> Path:
    data = tmp_path_factory.mktemp("cli")
    zh, _ = small_law_files
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "ingest", "laws", str(zh), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] > 100 and report["removed"] == 0
    return data


def run(data_dir: Path, *args: str, role: str = "admin") -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), *args], env=login_env(data_dir, role) if role else {}
    )
    # JSON goes to stdout alone; messages and errors to stderr.
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_search_json(data_dir: Path) -> None:
    code, out = run(data_dir, "search", "疑似不法的存款帳戶可以暫停提領嗎", "-k", "3", "--json")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 3
    for key in ("law", "article", "text", "score", "amended", "url", "source"):
        assert key in hits[0]
    assert any((h["law"], h["article"]) == ("銀行法", "45-2") for h in hits)


def test_search_restricted_to_a_law(data_dir: Path) -> None:
    code, out = run(data_dir, "search", "罰鍰", "--law", "管理外匯條例", "--json")
    assert code == 0 and {h["law"] for h in json.loads(out)} == {"管理外匯條例"}


def test_human_output_cites_article_and_date(data_dir: Path) -> None:
    code, out = run(data_dir, "search", "銀行法第12條之1")
    assert code == 0 and "銀行法第12-1條" in out and "修正 amended" in out


def test_reingest_reports_nothing_changed(
    data_dir: Path, small_law_files: tuple[Path, Path]
) -> None:
    code, out = run(data_dir, "ingest", "laws", str(small_law_files[0]), "--json")
    report = json.loads(out)
    assert code == 0 and (report["added"], report["amended"], report["removed"]) == (0, 0, 0)


def test_user_errors_exit_1_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    code, out = run(data_dir, "ingest", "laws", str(bad))
    assert code == 1 and "not valid JSON" in out
    code, out = run(data_dir, "search", "銀行", "--since", "2024-13-45")
    assert code == 1 and "no such date" in out
    code, out = run(data_dir, "search", "銀行", "--until", "last week")
    assert code == 1 and "YYYY-MM-DD" in out
    code, out = run(data_dir, "search", "")
    assert code == 1 and "empty" in out


def test_roc_dates_and_questions_from_stdin(data_dir: Path) -> None:
    code, out = run(
        data_dir, "search", "罰鍰", "--since", "民國90年1月1日", "--until", "113/12/31", "--json"
    )
    assert code == 0 and all("2001-01-01" <= h["amended"] <= "2024-12-31" for h in json.loads(out))
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(data_dir), "search", "-k", "1", "--json"],
        input="銀行法第12條之1\n\n洗錢防制法第5條\n",
    )
    first = json.loads(result.stdout.split("]")[0] + "]")
    assert result.exit_code == 0 and first[0]["article"] == "12-1"


def test_eval_retrieval_json(data_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"id": "1", "q": "行員可以收佣金嗎", "gold": [["銀行法", "35"]]}\n'
        '{"id": "2", "q": "管理外匯條例第2條", "gold": [["管理外匯條例", "第 2 條"]]}\n',
        encoding="utf-8",
    )
    code, out = run(data_dir, "eval", "retrieval", str(cases), "--json")
    assert code == 0
    report = json.loads(out)
    for mode in ("hybrid", "dense", "sparse"):
        assert set(report[mode]) == {"recall@1", "recall@5", "mrr@10"}
    assert report["hybrid"]["recall@5"] == 1.0


def test_help_explains(data_dir: Path) -> None:
    code, out = run(data_dir, "--help")
    assert code == 0 and "ingest" in out and "search" in out
    code, out = run(data_dir, "search", "--help")
    assert code == 0 and "--json" in out and "--law" in out


def test_one_bad_document_stops_the_run_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = tmp_path / "policy.md"
    good.write_text(
        "# 授信作業要點\n第 1 條 房貸擔保品應由本行估價。\n第 2 條 估價應每年覆核。\n",
        encoding="utf-8",
    )
    bad = tmp_path / "letter.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "ingest", "docs", str(good), str(bad)]
    )
    assert result.exit_code == 1 and "letter.pdf" in result.output
    code, out = run(data, "status", "--json")
    assert code == 0 and json.loads(out)["chunks"] == 0
    # Fixed, the same run goes through.
    bad.unlink()
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "ingest", "docs", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["added"] == 2


def test_ask_json_goes_through_the_graph(data_dir: Path) -> None:
    code, out = run(
        data_dir, "ask", "銀行對疑似不法或顯屬異常交易的存款帳戶可以怎麼處理？", "--json"
    )
    assert code == 0, out
    ans = json.loads(out)
    for key in ("answer", "agent", "citations", "tool_calls", "model", "conversation_id"):
        assert key in ans
    assert ans["agent"] == "compliance" and ans["model"] == "none"
    assert {"law": "銀行法", "article": "45-2"}.items() <= ans["citations"][0].items()
    assert ans["tool_calls"][0]["name"] == "search_regulations"
    # The conversation continues by id, and an unknown one is a clear error.
    code, out = run(
        data_dir, "ask", "那罰則呢？", "--conversation", ans["conversation_id"], "--json"
    )
    assert code == 0 and json.loads(out)["conversation_id"] == ans["conversation_id"]
    code, out = run(data_dir, "ask", "那罰則呢？", "--conversation", "nope")
    assert code == 1 and "no such conversation" in out


def test_ask_streams_text_and_lists_sources(data_dir: Path) -> None:
    code, out = run(data_dir, "ask", "行員可以收受借款人給的佣金嗎？")
    assert code == 0 and "未經語言模型生成" in out and "出處 / sources" in out
    assert "〔銀行法第35條〕" in out


def test_ask_refuses_what_the_guard_refuses(data_dir: Path) -> None:
    code, out = run(data_dir, "ask", "   ")
    assert code == 1 and "empty" in out


def test_users_add_list_and_duplicate(data_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(data_dir),
            "users",
            "add",
            "amy",
            "--role",
            "compliance",
            "--password-stdin",
        ],
        input="correct horse battery\n",
        env=login_env(data_dir, "admin"),
    )
    assert result.exit_code == 0, result.output
    code, out = run(data_dir, "users", "list", "--json")
    assert {"name": "amy", "role": "compliance", "can_log_in": True}.items() <= next(
        u for u in json.loads(out) if u["name"] == "amy"
    ).items()
    again = CliRunner().invoke(
        cli,
        ["--data-dir", str(data_dir), "users", "add", "amy", "--role", "fx", "--password-stdin"],
        input="another password\n",
        env=login_env(data_dir, "admin"),
    )
    assert again.exit_code == 1 and "already exists" in again.output
    short = CliRunner().invoke(
        cli,
        ["--data-dir", str(data_dir), "users", "add", "bob", "--role", "fx", "--password-stdin"],
        input="short\n",
        env=login_env(data_dir, "admin"),
    )
    assert short.exit_code == 1 and "too short" in short.output
    amy = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(data_dir),
            "ask",
            "洗錢防制法的主管機關是誰？",
            "--user",
            "amy",
            "--json",
        ],
        env={"ASSISTANT_PASSWORD": "correct horse battery"},
    )
    assert amy.exit_code == 0 and json.loads(amy.stdout)["agent"] == "compliance"
    code, out = run(data_dir, "ask", "問題", "--user", "nobody")
    assert code == 1 and "wrong user name or password" in out
    # An administrator made the accounts; a compliance officer may not.
    denied = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(data_dir),
            "--user",
            "amy",
            "--password-stdin",
            "users",
            "add",
            "carl",
            "--role",
            "fx",
            "--password-stdin",
        ],
        input="correct horse battery\nanother password\n",
    )
    assert denied.exit_code == 1 and "admin.users" in denied.output


def test_eval_agents_reports_routing_and_cited_gold(data_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "\n".join(
            json.dumps(c, ensure_ascii=False)
            for c in [
                {
                    "id": "a",
                    "q": "銀行對疑似不法的存款帳戶可以暫停提領嗎？",
                    "gold": [["銀行法", "45-2"]],
                    "agent": "compliance",
                },
                {"id": "b", "q": "行員可以收受借款人的佣金嗎？", "gold": [["銀行法", "35"]]},
                {"id": "c", "q": "外匯收支要向誰申報？", "gold": [["民法", "1"]]},
            ]
        ),
        encoding="utf-8",
    )
    code, out = run(data_dir, "eval", "agents", str(cases), "--json", "--details")
    assert code == 0, out
    report = json.loads(out)
    assert report["routing_accuracy"] == 1.0
    assert report["cited_gold"] == pytest.approx(2 / 3)
    assert [c["cited_gold"] for c in report["cases"]] == [True, True, False]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": ""}\n', encoding="utf-8")
    code, out = run(data_dir, "eval", "agents", str(bad))
    assert code == 1 and "needs a" in out


def test_ingest_laws_from_a_url(data_dir: Path, small_law_files: tuple[Path, Path]) -> None:
    import functools
    import http.server
    import threading

    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(small_law_files[0].parent)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, out = run(data_dir, "ingest", "laws", f"{base}/ChLaw.json", "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["added"] == 0 and report["unchanged"] > 100  # the same laws, by URL
        code, out = run(data_dir, "ingest", "laws", f"{base}/missing.json")
        assert code == 1 and "download failed" in out
    finally:
        server.shutdown()


def test_confidential_text_is_searched_only_as_a_user_who_may_read_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    letter = tmp_path / "letter.md"
    letter.write_text(
        "# 金管會機密函\n第 1 條 本行對甲公司之聯貸案應於三日內補正擔保品鑑價報告。\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(data), "ingest", "docs", str(letter), "--doc-class", "confidential"],
    )
    assert result.exit_code == 0, result.output
    query = "聯貸案擔保品鑑價報告補正"
    # Without a user the command searches public text only: the letter is not there.
    code, out = run(data, "search", query, "--json", role="")
    assert code == 0 and json.loads(out) == []
    # Asking for the confidential class without a user stops with the login message.
    code, out = run(data, "search", query, "--doc-class", "confidential", role="")
    assert code != 0 and "需要登入" in out and "needs a user" in out
    # A role that may not read confidential letters gets nothing, as in the chat.
    code, out = run(data, "search", query, "--doc-class", "confidential", "--json", role="fx")
    assert code == 0 and json.loads(out) == []
    # A compliance officer reads it, and the audit trail says who searched what.
    code, out = run(
        data, "search", query, "--doc-class", "confidential", "--json", role="compliance"
    )
    assert code == 0 and [h["doc_class"] for h in json.loads(out)] == ["confidential"]
    c = Container(make_settings(data))
    try:
        rows = [
            r
            for r in c.audit.recent(20)
            if r.kind == "action" and r.tool_calls[0]["name"] == "compliance.search"
        ]
    finally:
        c.close()
    assert {r.user_name for r in rows} == {"cli-fx", "cli-compliance"}
    mine = next(r for r in rows if r.user_name == "cli-compliance")
    assert "confidential" in mine.answer and mine.tool_calls[0]["args"]["query"] == query
