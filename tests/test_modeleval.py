"""The model-evaluation harness end to end on tiny GGUF models the suite builds itself.

Random weights score near chance, so these tests check the mechanics: counts, JSON fields,
answers constrained to the option labels, resumption after an interruption, report files
naming each model by sha256, two models side by side, and the regulation suite through the
whole assistant (with no model, and with the tiny model) on the small knowledge base.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.container import Container
from assistant.db import make_engine
from assistant.modeleval import answer_schema, extract_choice, get_run, list_runs, load_exam
from assistant.modeleval.cost import model_info
from assistant.modeleval.runner import ModelEvalRunner, RunOptions
from assistant.settings import LLMSettings
from evals.tiny_gguf import build_tiny_gguf
from tests.conftest import ROOT, SHARED, make_settings

SFI = SHARED / "eval" / "sfi_financial_market_exam.json"
REGULATION = SHARED / "eval" / "regulation_dev.jsonl"
NO_BASIS = ROOT / "evals" / "regulation_nobasis.jsonl"
# One thread: the runners are small and shared; llama.cpp's own choice spins on them.
ONE_THREAD = LLMSettings(threads=1, context_size=4096)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    # The second name claims Q8_0; the GGUF header (F32) is what the report must trust.
    return (
        build_tiny_gguf(folder / "tiny-a.gguf", seed=0, n_ctx_train=4096),
        build_tiny_gguf(folder / "tiny-b-Q8_0.gguf", seed=1, n_ctx_train=4096),
    )


@pytest.fixture(scope="module")
def exam_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exam") / "exam.csv"
    rows = [
        ("q1", "銀行法", "銀行辦理授信應審酌哪一項？", "借款人信用", "天氣", "星座", "血型", "A"),
        ("q2", "銀行法", "存款帳戶異常時銀行可以？", "加息", "暫停提領", "抽獎", "公告", "B"),
        ("q3", "外匯", "結購外匯須申報的門檻單位是？", "新臺幣", "日圓", "美元", "歐元", "3"),
        (
            "q4",
            "外匯",
            "管理外匯的主管機關之一是？",
            "交通部",
            "中央銀行",
            "衛福部",
            "教育部",
            "Ｂ",
        ),
        ("q5", "防制洗錢", "交易紀錄應保存至少幾年？", "一年", "兩年", "三年", "五年", "(D)"),
        ("q6", "防制洗錢", "疑似洗錢交易應向何處申報？", "調查局", "消基會", "里長", "鄰居", "A"),
    ]
    lines = ["id,subject,question,A,B,C,D,answer"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def threads_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_THREADS", "1")


# -- answer extraction and loaders ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits", "letters"),
    [
        ("答案：3", "3", "C"),
        ("(C)", "3", "C"),
        ("選項2", "2", "B"),
        ("３", "3", "C"),  # full-width digit
        ("答案是（４）", "4", "D"),
        ("答案：Ｂ", "2", "B"),  # full-width letter
        ('{"answer": "2"}', "2", "B"),
        ("The answer is C.", "3", "C"),
        ("C. 因為銀行應審酌借款人信用", "3", "C"),
        ("選項2不對，答案是3", "3", "C"),  # the last cue is the conclusion
        ("<think>也許選項1</think>答案 4", "4", "D"),  # reasoning is not the answer
        ("我不知道", None, None),
        ("the answer is a bank", None, None),
        ("1和2都對", None, None),
        ("", None, None),
    ],
)
def test_extracts_the_chosen_option(text: str, digits: str | None, letters: str | None) -> None:
    assert extract_choice(text, ["1", "2", "3", "4"]) == digits
    assert extract_choice(text, ["A", "B", "C", "D"]) == letters


def test_answer_schema_admits_only_the_labels() -> None:
    schema = answer_schema(["1", "2", "3", "4"])
    assert schema["properties"]["answer"]["enum"] == ["1", "2", "3", "4"]
    assert schema["required"] == ["answer"]


def test_loads_the_sfi_exam_without_subjects() -> None:
    items = load_exam(SFI)
    assert len(items) > 500 and len({i.id for i in items}) == len(items)
    first = items[0]
    assert list(first.options) == ["1", "2", "3", "4"] and first.answer in first.options
    assert all(i.subject is None for i in items)


def test_loads_generic_csv_and_jsonl(exam_csv: Path, tmp_path: Path) -> None:
    items = load_exam(exam_csv)
    assert [i.answer for i in items] == ["A", "B", "C", "B", "D", "A"]
    assert {i.subject for i in items} == {"銀行法", "外匯", "防制洗錢"}
    jsonl = tmp_path / "exam.jsonl"
    jsonl.write_text(
        json.dumps({"question": "題目", "options": ["甲", "乙", "丙", "丁"], "answer": "C"}) + "\n",
        encoding="utf-8",
    )
    (item,) = load_exam(jsonl)
    assert item.options == {"A": "甲", "B": "乙", "C": "丙", "D": "丁"} and item.answer == "C"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "題目", "A": "甲", "B": "乙", "answer": "E"}) + "\n")
    with pytest.raises(ValueError, match="not an option"):
        load_exam(bad)


def test_model_info_reads_quantization_from_the_gguf_header(models: tuple[Path, Path]) -> None:
    info = model_info(models[1])
    assert info["quantization"] == "F32" and info["architecture"] == "llama"
    assert len(info["sha256"]) == 64 and info["size_bytes"] == models[1].stat().st_size


# -- eval exam ------------------------------------------------------------------------------


def test_exam_command_on_a_tiny_model(
    tmp_path: Path, models: tuple[Path, Path], threads_one: None
) -> None:
    args = ["--data-dir", str(tmp_path), "eval", "exam", str(SFI), "--model", str(models[0])]
    result = CliRunner().invoke(cli, [*args, "--limit", "4", "--json", "--details"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] == 4 and report["model"] == "tiny-a.gguf"
    # Decoded under the schema: every answer is one of the labels, none unusable.
    assert report["answered"] == 4 and report["no_answer_rate"] == 0.0
    assert all(r["predicted"] in {"1", "2", "3", "4"} for r in report["items"])
    assert 0.0 <= report["accuracy"] <= 1.0
    assert report["accuracy"] == sum(r["correct"] for r in report["items"]) / 4


def test_exam_command_takes_an_installed_name_and_says_how_to_install_a_missing_one(
    tmp_path: Path, models: tuple[Path, Path], threads_one: None
) -> None:
    data = tmp_path / "data"
    base = ["--data-dir", str(data)]
    result = CliRunner().invoke(cli, [*base, "eval", "exam", str(SFI), "--model", "qwen1.5b"])
    assert result.exit_code == 1
    assert "assistant model install qwen1.5b" in result.output and "not installed" in result.output
    add = [*base, "model", "install", "--file", str(models[0]), "--name", "bank-a"]
    assert CliRunner().invoke(cli, add).exit_code == 0
    exam = [*base, "eval", "exam", str(SFI), "--model", "bank-a", "--limit", "2", "--json"]
    result = CliRunner().invoke(cli, exam)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 2


def test_exam_command_without_a_model_says_one_is_needed(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "eval", "exam", str(SFI)])
    assert result.exit_code == 1 and "an exam needs a model" in result.output


# -- eval models: resumption, report, side by side ---------------------------------------------


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_where_it_stopped(
    tmp_path: Path, models: tuple[Path, Path], exam_csv: Path
) -> None:
    c = Container(make_settings(tmp_path / "data"))
    try:
        asked: list[str] = []

        def stop_after_three(sha: str, suite: str, item: str) -> None:
            asked.append(item)
            if len(asked) == 3:
                raise Interrupted  # the process killed midway

        opts = RunOptions(models=[str(models[0])], suites=["exam"], exam=exam_csv)
        runner = ModelEvalRunner(c, after_item=stop_after_three, llm_settings=ONE_THREAD)
        with pytest.raises(Interrupted):
            runner.run(opts)
        (stopped,) = list_runs(c.engine)
        assert stopped["status"] == "running" and stopped["items_done"] == 4  # cost + 3 items

        asked.clear()
        resumed = ModelEvalRunner(
            c, after_item=lambda s, suite, i: asked.append(i), llm_settings=ONE_THREAD
        ).run(opts)
        assert resumed["resumed"] and resumed["run_id"] == stopped["id"]
        assert asked == ["q4", "q5", "q6"]  # only the rest ran
        exam = resumed["models"][0]["exam"]
        assert exam["total"] == 6 and exam["answered"] == 6
        assert set(exam["per_subject"]) == {"銀行法", "外匯", "防制洗錢"}
        run = get_run(c.engine, resumed["run_id"])
        assert run is not None and run["status"] == "done" and run["finished_at"]
        assert len([i for i in run["items"] if i["suite"] == "exam"]) == 6
        assert len([i for i in run["items"] if i["suite"] == "cost"]) == 1  # measured once

        # --new: a fresh run, every item asked again.
        asked.clear()
        fresh = ModelEvalRunner(
            c, after_item=lambda s, suite, i: asked.append(i), llm_settings=ONE_THREAD
        ).run(RunOptions(**{**opts.__dict__, "new": True}))
        assert fresh["run_id"] != resumed["run_id"] and not fresh["resumed"] and len(asked) == 6
    finally:
        c.close()


def test_two_models_side_by_side_with_a_report(
    tmp_path: Path, models: tuple[Path, Path], exam_csv: Path, threads_one: None
) -> None:
    out = tmp_path / "report"
    data = tmp_path / "data"
    pair = ["--models", str(models[0]), str(models[1])]  # two files after one --models
    exam = ["--suite", "exam", "--exam", str(exam_csv), "--limit", "4"]
    args = ["--data-dir", str(data), "eval", "models", *pair, *exam, "--out", str(out), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    a, b = report["models"]
    assert (a["file"], b["file"]) == ("tiny-a.gguf", "tiny-b-Q8_0.gguf")
    assert a["sha256"] != b["sha256"] and b["quantization"] == "F32"
    for m in (a, b):
        assert m["exam"]["total"] == 4 and m["exam"]["answered"] == 4
        cost = m["cost"]
        assert cost["load_s"] >= 0 and cost["prompt_tokens"] > 100
        assert cost["time_to_first_token_s"] > 0 and cost["prompt_tokens_per_s"] > 0
        assert cost["rss_delta_bytes"] >= 0
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for m in (a, b):
        assert m["sha256"] in md and m["sha256"] in page
    assert "<svg" in page and "<script" not in page and "cdn" not in page.lower()
    saved = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert saved["run_id"] == report["run_id"] and len(saved["models"][0]["items"]["exam"]) == 4
    # The admin page's view of past runs.
    engine = make_engine(make_settings(data).database_url)  # the database the CLI wrote
    try:
        (run,) = list_runs(engine)
        assert run["id"] == report["run_id"] and run["status"] == "done"
        assert [m["sha256"] for m in run["models"]] == [a["sha256"], b["sha256"]]
        assert run["report_dir"] == str(out)
    finally:
        engine.dispose()


def test_models_command_needs_its_inputs(tmp_path: Path, models: tuple[Path, Path]) -> None:
    args = ["--data-dir", str(tmp_path), "eval", "models", "--models", str(models[0])]
    result = CliRunner().invoke(cli, [*args, "--suite", "exam"])
    assert result.exit_code == 1 and "--exam" in result.output


# -- the regulation suite through the whole assistant ------------------------------------------


def test_regulation_suite_with_no_model_and_with_the_tiny_model(
    kb: Container, models: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short answers: the random-weight model writes invalid UTF-8, which llama-cpp-python's
    # stream holds back and re-decodes token by token (quadratic; ~100 s for 768 tokens).
    monkeypatch.setattr(kb.settings.agents, "answer_max_tokens", 48)
    opts = RunOptions(
        models=["none", str(models[0])],
        suites=["regulation"],
        questions=[REGULATION],
        no_basis=[NO_BASIS],
        limit=2,
        out_dir=tmp_path / "report",
    )
    result = ModelEvalRunner(kb, llm_settings=ONE_THREAD).run(opts)
    none, tiny = result["models"]
    assert none["sha256"] == "none" and "cost" not in none  # nothing to measure without a model
    assert tiny["cost"]["generated_tokens"] > 0
    for m in (none, tiny):
        reg = m["regulation"]
        assert (reg["total"], reg["gold_questions"], reg["no_basis_questions"]) == (4, 2, 2)
        for key in ("cited_gold", "grounded", "refused_when_no_basis", "refused_when_answerable"):
            assert 0.0 <= reg[key] <= 1.0
        items = m["items"]["regulation"]
        assert [i["kind"] for i in items] == ["gold", "gold", "no_basis", "no_basis"], items
        assert all(isinstance(i["invented"], list) for i in items)
    # Without a model the answer is composed from retrieved articles: nothing is invented.
    assert none["regulation"]["invented_citations"] == 0, none["items"]["regulation"]
    assert none["regulation"]["grounded"] == 1.0 and none["regulation"]["generated_rate"] == 0.0
    assert tiny["regulation"]["generated_rate"] > 0
    corpus = result["corpus"]
    assert corpus["documents"] == 5 and corpus["chunks"] > 100 and corpus["snapshot_date"]
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert corpus["snapshot_date"] in md and tiny["sha256"] in md
    # What the admin page lists: per-model summaries, the items in their own table.
    run = get_run(kb.engine, result["run_id"])
    assert run is not None and run["summary"]["models"][1]["regulation"] == tiny["regulation"]
    assert len([i for i in run["items"] if i["suite"] == "regulation"]) == 8
