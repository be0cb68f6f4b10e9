"""The `assistant` command line. Human-readable by default, `--json` for scripts.

Exit codes: 0 success, 1 a user error (bad input, nothing indexed), 2 a usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from assistant.cli_support import USER_HELP, AppContext, emit_json, pass_app, progress
from assistant.cli_usage import BilingualError, bilingual
from assistant.errors import AssistantError
from assistant.llm.base import LLMError
from assistant.settings import load_settings
from knowledge.errors import KnowledgeError
from knowledge.models import Hit, SearchFilters


class AppGroup(click.Group):
    """Turns the errors a user can act on into a clear message and exit code 1, no traceback,
    and click's usage errors (for every subcommand, parsed inside this group) into Chinese
    first, then English, exit code 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise bilingual(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KnowledgeError, AssistantError, LLMError) as exc:
            raise BilingualError(str(exc)) from exc
        except click.UsageError as exc:
            raise bilingual(exc) from exc


@click.group(cls=AppGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="ASSISTANT_CONFIG",
    help="TOML settings file (below environment variables in precedence).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Folder for all state. Default: ASSISTANT_DATA_DIR or ./data.",
)
@click.option(
    "--user",
    "user_name",
    envvar="ASSISTANT_USER",
    help="Act as this user (commands that read customer data or decide; see `assistant login`).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="The --user's password is the first line of standard input.",
)
@click.option("--password", envvar="ASSISTANT_PASSWORD", hidden=True)
@click.option("--session", envvar="ASSISTANT_SESSION", hidden=True)
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    data_dir: Path | None,
    user_name: str | None,
    password_stdin: bool,
    password: str | None,
    session: str | None,
) -> None:
    """TWFin Assistant：銀行法規檢索與業務助理 / assistant for Taiwanese bank staff.

    \b
    Start with:
      assistant ingest laws ../shared/data/laws/ChLaw.json
      assistant search "銀行對疑似不法的存款帳戶可以怎麼處理？"
    """
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    try:
        settings = load_settings(config, **overrides)
    except (FileNotFoundError, ValueError) as exc:
        raise click.UsageError(f"設定錯誤 / bad settings: {exc}") from exc
    app = AppContext(
        settings,
        user_name=user_name,
        password_stdin=password_stdin,
        password=password,
        session=session,
    )
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.group()
def ingest() -> None:
    """匯入法規與文件 / ingest laws and documents into the knowledge base."""


def _report_out(reports: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(reports if len(reports) != 1 else reports[0])
        return
    for r in reports:
        click.echo(
            f"{r['source']}: {r['documents']} 份文件 documents, {r['chunks']} 段 chunks — "
            f"新增 added {r['added']}, 修正 amended {r['amended']}, 刪除 removed {r['removed']}, "
            f"未變 unchanged {r['unchanged']} ({r['seconds']} s)"
        )
        if r.get("reembedded"):
            click.echo(f"  換了嵌入模型，重新嵌入 re-embedded for the new model: {r['reembedded']}")
        for c in r["changes"][:50]:
            click.echo(f"  {c['doc']}: +{c['added']} ~{c['amended']} -{c['removed']}")
        if len(r["changes"]) > 50:
            click.echo(f"  … {len(r['changes']) - 50} more")


@ingest.command("laws")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the change report as JSON.")
@pass_app
def ingest_laws(app: AppContext, source: str, as_json: bool) -> None:
    """SOURCE: 法規資料庫 open-data JSON (ChLaw.json, EngLaw.json) or the same zipped; a path
    or an http(s) URL.

    Incremental: unchanged articles are skipped, amended ones replaced, removed ones deleted.
    """
    import tempfile

    from knowledge.download import download, is_url

    with tempfile.TemporaryDirectory() as tmp, progress() as report_progress:
        path = download(source, Path(tmp), report_progress) if is_url(source) else Path(source)
        report = app.container.ingestor.ingest_laws(path, progress=report_progress)
    _report_out([report.as_dict()], as_json)


@ingest.command("docs")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--title", help="Document title (default: its first line or file name).")
@click.option("--level", default="內規", show_default=True, help="Level, e.g. 內規, 函釋.")
@click.option("--category", default="", help="Category, e.g. 授信, 外匯.")
@click.option("--doc-class", help="Document class for access control (default: public).")
@click.option("--amended", help="Date of the version, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the change reports as JSON.")
@pass_app
def ingest_docs(
    app: AppContext,
    paths: tuple[Path, ...],
    title: str | None,
    level: str,
    category: str,
    doc_class: str | None,
    amended: str | None,
    as_json: bool,
) -> None:
    """PATHS: PDF, Markdown or text files, or folders of them (internal policies, FSC letters).

    Every file is checked before any is indexed: one bad file stops the run and changes nothing.
    """
    from knowledge.docs import SUPPORTED

    amended = _iso(amended)
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED)
        else:
            files.append(p)
    if not files:
        raise KnowledgeError("沒有可匯入的檔案 / no PDF, Markdown or text files found")
    ingestor = app.container.ingestor
    # Parse every file first so that one corrupt file leaves the index untouched.
    prepared = [
        ingestor.prepare_doc(
            f,
            title=title if len(files) == 1 else None,
            level=level,
            category=category,
            doc_class=doc_class,
            amended=amended,
        )
        for f in files
    ]
    reports = []
    with progress() as report_progress:
        for doc in prepared:
            reports.append(ingestor.apply(doc, progress=report_progress).as_dict())
    _report_out(reports, as_json)


@cli.command()
@click.argument("question", required=False)
@click.option("-k", "k", default=None, type=int, help="How many hits (default 5).")
@click.option("--law", "laws", multiple=True, help="Only these laws (repeatable).")
@click.option("--level", "levels", multiple=True, help="Only these levels: 法律, 命令, 內規 …")
@click.option("--category", "categories", multiple=True, help="Category contains this text.")
@click.option("--since", help="Amended on or after (YYYY-MM-DD).")
@click.option("--until", help="Amended on or before (YYYY-MM-DD).")
@click.option("--lang", "langs", multiple=True, type=click.Choice(["zh-TW", "en"]))
@click.option(
    "--doc-class",
    "doc_classes",
    multiple=True,
    help="Only these document classes (repeatable); internal and confidential need a user "
    "whose role may read them.",
)
@click.option(
    "--mode", type=click.Choice(["hybrid", "dense", "sparse"]), default="hybrid", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON, best first.")
@click.option("--user", "user_name", help=USER_HELP)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="從標準輸入讀取密碼 / read the password from standard input.",
)
@pass_app
def search(
    app: AppContext,
    question: str | None,
    k: int | None,
    laws: tuple[str, ...],
    levels: tuple[str, ...],
    categories: tuple[str, ...],
    since: str | None,
    until: str | None,
    langs: tuple[str, ...],
    doc_classes: tuple[str, ...],
    mode: str,
    as_json: bool,
    user_name: str | None,
    password_stdin: bool,
) -> None:
    """以問題檢索法規條文 / search the regulations with a question (中文 or English).

    Without QUESTION, reads one question per line from standard input (an interactive prompt
    on a terminal), so scripts can pipe many questions through one loaded index.

    Public text is open to whoever runs the command. Internal policies and confidential
    letters are read as a user, through the compliance desk (role-checked and audited).
    """
    filters = SearchFilters(
        laws=list(laws) or None,
        levels=list(levels) or None,
        categories=list(categories) or None,
        amended_from=_iso(since),
        amended_to=_iso(until),
        langs=list(langs) or None,
        doc_classes=list(doc_classes) or None,
    )
    # Who may read what is the desk's to decide; without a user only public text is searched.
    user = None
    if user_name or password_stdin or set(doc_classes) - {"public"}:
        user = app.user(user_name, password_stdin=password_stdin)
    else:
        filters = filters.model_copy(update={"doc_classes": ["public"]})

    def answer(q: str) -> None:
        kk = k or app.settings.retrieval.default_k
        if user is None:
            hits = app.container.retriever.search(
                q,
                k=kk,
                filters=filters,
                mode=mode,  # type: ignore[arg-type]
            )
        else:
            hits = app.container.compliance_desk.lookup(
                user,
                q,
                k=kk,
                filters=filters,
                mode=mode,  # type: ignore[arg-type]
            )
        if as_json:
            emit_json([h.model_dump() for h in hits])
        else:
            _print_hits(hits)

    if question is not None:
        answer(question)
        return
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("問題 question> " if interactive else "")
        except EOFError:
            break
        if line.strip() in ("", "exit", "quit"):
            if interactive and line.strip() == "":
                continue
            break
        if not interactive and not as_json:
            click.echo(f"\n問題 question: {line.strip()}")
        try:
            answer(line)
        except KnowledgeError as exc:  # one bad question does not end the session
            click.echo(f"錯誤 / error: {exc}", err=True)


def _iso(text: str | None) -> str | None:
    if text is None:
        return None
    from assistant.dates import parse_date

    try:
        return parse_date(text).isoformat()
    except ValueError as exc:
        raise KnowledgeError(str(exc)) from exc


def _print_hits(hits: list[Hit]) -> None:
    if not hits:
        click.echo("找不到相關條文 / no matching articles")
    for i, h in enumerate(hits, start=1):
        where = f" p.{h.page}" if h.page else ""
        click.echo(f"{i}. {h.label}{where}  [{h.score:.3f}]  修正 amended {h.amended or '—'}")
        click.echo(f"   {h.text[:160].replace(chr(10), ' ')}")
        if h.url:
            click.echo(f"   {h.url}")


@cli.group("eval")
def eval_group() -> None:
    """評測 / measure retrieval (and later the agents and models)."""


@eval_group.command("retrieval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--details", is_flag=True, help="Also list each question's gold rank.")
@pass_app
def eval_retrieval(app: AppContext, file: Path, as_json: bool, details: bool) -> None:
    """FILE: JSONL of {"id", "q", "gold": [[law, article], ...]}; reports recall@1/5, MRR@10."""
    from assistant.modeleval.items import skipped_lines
    from evals.retrieval import evaluate, load_cases

    try:
        cases = load_cases(file)
    except ValueError as exc:
        raise KnowledgeError(str(exc)) from exc
    report = evaluate(app.container.retriever, cases)
    if not details:
        report.pop("cases")
    if as_json:
        emit_json(report)
        return
    click.echo(f"{report['n']} questions, {file.name}, {report['n_skipped']} skipped")
    for line in skipped_lines(report["skipped_items"]):
        click.echo(line)
    click.echo(f"{'mode':8} {'recall@1':>9} {'recall@5':>9} {'mrr@10':>8}")
    for mode in ("hybrid", "dense", "sparse"):
        m = report[mode]
        click.echo(f"{mode:8} {m['recall@1']:9.3f} {m['recall@5']:9.3f} {m['mrr@10']:8.3f}")
    for c in report.get("cases", []):
        click.echo(f"  {c['id']}: rank {c['rank']}  top {', '.join(c['top'])}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """知識庫現況 / what is indexed, and where state lives."""
    c = app.container
    laws = c.catalog.laws()
    data = {
        "data_dir": str(app.settings.data_dir),
        "qdrant": app.settings.qdrant.url
        if app.settings.qdrant.resolved_mode == "server"
        else str(
            app.settings.edge_path
            if app.settings.qdrant.resolved_mode == "edge"
            else app.settings.qdrant_path
        ),
        "chunks": c.catalog.count(),
        "documents": len(laws),
        "languages": sorted({lang for _, lang, _ in laws}),
    }
    if as_json:
        emit_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


@cli.group()
def config() -> None:
    """設定 / settings."""


@config.command("show")
@pass_app
def config_show(app: AppContext) -> None:
    """Print the settings in force as JSON (secrets hidden)."""
    data = app.settings.model_dump(mode="json")
    if data["qdrant"].get("api_key"):
        data["qdrant"]["api_key"] = "***"
    emit_json(data)


def _register() -> None:
    from assistant.cli_admin import admin
    from assistant.cli_audit import audit
    from assistant.cli_chat import ask, eval_agents, review, serve, users
    from assistant.cli_credit import credit, eval_credit
    from assistant.cli_credit_pd import credit_score, credit_train, eval_credit_pd
    from assistant.cli_db import db
    from assistant.cli_federation import federation
    from assistant.cli_fraud import eval_fraud, fraud
    from assistant.cli_fx import eval_fx, fx
    from assistant.cli_login import login, logout, whoami
    from assistant.cli_model_files import model
    from assistant.cli_models import eval_exam, eval_models
    from assistant.cli_monitor import alerts, cleanroom, monitor_cmd, signals

    cli.add_command(ask)
    cli.add_command(review)
    cli.add_command(admin)
    cli.add_command(audit)
    cli.add_command(serve)
    cli.add_command(users)
    cli.add_command(login)
    cli.add_command(logout)
    cli.add_command(whoami)
    cli.add_command(db)
    cli.add_command(model)
    eval_group.add_command(eval_agents)
    cli.add_command(fx)
    cli.add_command(fraud)
    cli.add_command(federation)
    fraud.add_command(monitor_cmd)
    fraud.add_command(alerts)
    fraud.add_command(cleanroom)
    fraud.add_command(signals)
    eval_group.add_command(eval_fraud)
    eval_group.add_command(eval_fx)
    cli.add_command(credit)
    eval_group.add_command(eval_credit)
    credit.add_command(credit_train)
    credit.add_command(credit_score)
    eval_group.add_command(eval_credit_pd)
    eval_group.add_command(eval_exam)
    eval_group.add_command(eval_models)


_register()


def main() -> None:
    # Answers run on worker threads. OpenMP's default is to spin-wait after each parallel
    # region, so torch's idle threads steal the cores from the next call made on another
    # thread: English searches measured 50 ms → 100–300 ms. Set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cli(prog_name="assistant")


if __name__ == "__main__":
    main()
