"""Commands that choose and certify the model a bank deploys: eval exam, eval models.

Everything runs on this machine: the model files, the questions and the scores stay here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from assistant.cli_support import AppContext, emit_json, pass_app, progress
from assistant.errors import AssistantError
from assistant.llm import LLM, make_llm
from assistant.llm.model_install import ModelFileError
from assistant.llm.model_store import ModelStore
from assistant.model_pipeline import ModelPipeline

# Questions the regulation corpus cannot answer, shipped with the project.
NO_BASIS_FILE = Path(__file__).resolve().parents[1] / "evals" / "regulation_nobasis.jsonl"


def _exam_llm(app: AppContext, model: str | None) -> LLM:
    settings = app.settings.llm
    if model is not None:
        # A name is its installed file (a catalog name not installed says how to install it);
        # --model overrides the configured file; context, threads and GPU layers stay as set.
        try:
            path = ModelStore(app.settings.data_dir).resolve(model)
        except ModelFileError as exc:
            raise AssistantError(str(exc)) from exc
        if not path.is_file():
            raise AssistantError(f"找不到模型檔 / model file not found: {path}")
        settings = settings.model_copy(update={"backend": "llama_cpp", "model_path": path})
    # Through the pipeline like every model call: a remote server gets pseudonymised text.
    llm = ModelPipeline(make_llm(settings), mask_remote=settings.mask_remote).llm
    if not llm.available:
        raise AssistantError(
            "考試需要模型：請以 --model 指定 GGUF 檔或設定 ASSISTANT_MODEL_PATH / "
            "an exam needs a model: pass --model FILE.gguf or set ASSISTANT_MODEL_PATH"
        )
    return llm


@click.command("exam")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    help="GGUF file or installed model name (`assistant model list`) to examine (default: "
    "the configured llm.model_path).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--details", is_flag=True, help="Also list each question's answer.")
@pass_app
def eval_exam(
    app: AppContext,
    file: Path,
    model: str | None,
    limit: int | None,
    as_json: bool,
    details: bool,
) -> None:
    """選擇題考試 / a multiple-choice exam: FILE is SFI JSON, or CSV / JSONL with question,
    A–D and answer (subject optional). Accuracy, per subject, and unanswered share."""
    from assistant.modeleval.exams import load_exam
    from assistant.modeleval.items import skipped_lines
    from assistant.modeleval.suites import run_exam_item, summarise_exam

    try:
        loaded = load_exam(file)
    except ValueError as exc:
        raise AssistantError(str(exc)) from exc
    # A malformed question is left out and listed; the rest of the exam is scored.
    skipped = loaded.skipped_dicts()
    items = loaded[:limit]
    llm = _exam_llm(app, model)
    results = []
    with progress() as report:
        report("考試 exam", 0, len(items))
        for n, item in enumerate(items, 1):
            results.append(run_exam_item(llm, item))
            report("考試 exam", n, len(items))
    summary: dict[str, Any] = {
        "file": file.name,
        "model": llm.name,
        **summarise_exam(results),
        "n_skipped": len(skipped),
        "skipped_items": skipped,
    }
    if details:
        summary["items"] = results
    if as_json:
        emit_json(summary)
        return
    click.echo(
        f"{summary['total']} 題 questions, {file.name}, model {llm.name}, "
        f"{len(skipped)} 題格式錯誤略過 skipped"
    )
    for line in skipped_lines(skipped):
        click.echo(line)
    click.echo(f"accuracy          {_pct(summary['accuracy'])}")
    click.echo(f"answered          {summary['answered']}/{summary['total']}")
    click.echo(f"accuracy_answered {_pct(summary['accuracy_answered'])}")
    for subject, s in summary["per_subject"].items():
        click.echo(f"  {subject}: {_pct(s['accuracy'])} ({s['correct']}/{s['total']})")
    for r in summary.get("items", []):
        mark = "✓" if r["correct"] else "✗"
        click.echo(f"  {r['id']}: {r['predicted'] or '-'} (gold {r['gold']}) {mark}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@click.command("models")
@click.option(
    "--models",
    "models",
    multiple=True,
    help=(
        "GGUF files or installed model names (`assistant model list`) to compare ('none': the "
        "no-model backend); more may follow it."
    ),
)
@click.argument("more_models", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--suite",
    type=click.Choice(["exam", "regulation", "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--exam",
    "exam_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Exam file for the exam suite (SFI JSON, CSV or JSONL).",
)
@click.option(
    "--questions",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Regulation JSONL with gold articles (the retrieval eval's format); repeatable.",
)
@click.option(
    "--no-basis",
    "no_basis",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Questions the corpus cannot answer (default: evals/regulation_nobasis.jsonl).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items of each file.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default: DATA_DIR/model_evals/RUN_ID).",
)
@click.option("--new", is_flag=True, help="Start a fresh run instead of resuming the last one.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def eval_models(
    app: AppContext,
    models: tuple[str, ...],
    more_models: tuple[Path, ...],
    suite: str,
    exam_file: Path | None,
    questions: tuple[Path, ...],
    no_basis: tuple[Path, ...],
    limit: int | None,
    out_dir: Path | None,
    new: bool,
    as_json: bool,
) -> None:
    """模型並列評測 / several models side by side: cost, exam, regulation; writes report.md,
    report.html and result.json. Rerunning the same command resumes an interrupted run."""
    from assistant.modeleval.items import skipped_lines
    from assistant.modeleval.runner import ModelEvalRunner, RunOptions

    # `--models a.gguf b.gguf`: click gives the first to the option, the rest as arguments.
    names = [m for part in models for m in part.split(",") if m] + [str(p) for p in more_models]
    suites = ["exam", "regulation"] if suite == "all" else [suite]
    opts = RunOptions(
        models=names,
        suites=suites,
        exam=exam_file,
        questions=list(questions),
        no_basis=list(no_basis) or ([NO_BASIS_FILE] if "regulation" in suites else []),
        limit=limit,
        out_dir=out_dir,
        new=new,
    )
    with progress() as report:
        try:
            result = ModelEvalRunner(app.container, progress=report).run(opts)
        except (ValueError, FileNotFoundError) as exc:
            raise AssistantError(str(exc)) from exc
    for m in result["models"]:
        m.pop("items", None)  # per-item results stay in the database and result.json
    if as_json:
        emit_json(result)
        return
    verb = "接續 resumed" if result["resumed"] else "完成 finished"
    click.echo(
        f"{verb} run {result['run_id']}, suites {', '.join(result['suites'])}, "
        f"{result['n_skipped']} 題格式錯誤略過 malformed items skipped"
    )
    for line in skipped_lines(result["skipped_items"]):
        click.echo(line)
    for m in result["models"]:
        click.echo(f"{m['file']}  {m.get('quantization', '')}  sha256 {m['sha256'][:16]}…")
        cost = m.get("cost") or {}
        if cost:
            click.echo(
                f"  load {cost['load_s']} s · RSS +{cost['rss_delta_bytes'] / 2**20:.0f} MiB · "
                f"TTFT {cost['time_to_first_token_s']} s · prompt {cost['prompt_tokens_per_s']} "
                f"tok/s · generation {cost['generation_tokens_per_s']} tok/s"
            )
        exam = m.get("exam") or {}
        if "skipped" in exam:
            click.echo(f"  exam: {exam['skipped']}")
        elif exam:
            click.echo(
                f"  exam: accuracy {_pct(exam['accuracy'])}, answered "
                f"{exam['answered']}/{exam['total']}"
            )
        reg = m.get("regulation") or {}
        if reg:
            click.echo(
                f"  regulation: cited gold {_pct(reg['cited_gold'])}, grounded "
                f"{_pct(reg['grounded'])}, invented {reg['invented_citations']}, refused when "
                f"no basis {_pct(reg['refused_when_no_basis'])}"
            )
    for kind, path in result["report"].items():
        click.echo(f"{kind}: {path}")
