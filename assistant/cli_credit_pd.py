"""`assistant credit train|score` and `assistant eval credit-pd`: the probability-of-default
model. The commands are attached to the ``credit`` and ``eval`` groups by ``assistant.cli``."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.cli_support import AppContext, emit_json, needs_user, pass_app
from assistant.errors import AssistantError
from assistant.permissions import UserContext

MAX_ERRORS_SHOWN = 20


def _show_errors(errors: list[dict]) -> None:
    for error in errors[:MAX_ERRORS_SHOWN]:
        where = f" [{error['column']}={error['value']!r}]" if error["column"] else ""
        click.echo(f"  line {error['line']}: {error['reason']}{where}", err=True)
    if len(errors) > MAX_ERRORS_SHOWN:
        click.echo(
            f"  … 另有 {len(errors) - MAX_ERRORS_SHOWN} 個 / and {len(errors) - MAX_ERRORS_SHOWN} more",
            err=True,
        )


@needs_user
@click.command("train")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", required=True, help="0/1 default column (是/否, Y/N, yes/no accepted).")
@click.option("--id-column", help="Applicant id column: kept for output, not a feature.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def credit_train(
    app: AppContext,
    user: UserContext,
    csv_path: Path,
    target: str,
    id_column: str | None,
    seed: int,
    as_json: bool,
) -> None:
    """違約機率模型訓練 / train the PD model on CSV_PATH (bad rows are reported by line)."""
    report = app.container.credit_desk.train_pd(user, csv_path, target, id_column, seed=seed)
    if as_json:
        emit_json(report)
        return
    click.echo(f"模型 model         {report['model_file']}")
    click.echo(
        f"資料列 rows used   {report['rows_used']} / {report['rows_read']}"
        f"（違約 positives {report['positives']}）"
    )
    click.echo(f"壞資料列 bad rows  {report['bad_rows']}")
    click.echo(f"交叉驗證 CV AUC    {report['cv_auc']:.4f}  Brier {report['cv_brier']:.4f}")
    click.echo(
        f"特徵 features      {len(report['features'])}"
        f"（衍生 engineered {len(report['engineered'])}，類別 categorical "
        f"{len(report['categorical'])}）"
    )
    for column, why in report["dropped"].items():
        click.echo(f"  未使用 not used: {column}: {why}")
    for note in report["notes"]:
        click.echo(f"  注意 note: {note}")
    click.echo(f"耗時 seconds       {report['seconds']}")
    _show_errors(report["errors"])


@needs_user
@click.command("score")
@click.argument(
    "csv_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--row", "row_json", help="One applicant as JSON, e.g. '{\"LIMIT_BAL\": 50000, …}'.")
@click.option("--top", "top_n", type=click.IntRange(1), help="Only the N highest PDs.")
@click.option(
    "--reasons",
    default=3,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Reasons per applicant.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def credit_score(
    app: AppContext,
    user: UserContext,
    csv_path: Path | None,
    row_json: str | None,
    top_n: int | None,
    reasons: int,
    as_json: bool,
) -> None:
    """違約機率 / calibrated PD per applicant of CSV_PATH (or --row), riskiest first, with
    the reasons: each the PD change when that feature is set to its training median."""
    if (csv_path is None) == (row_json is None):
        raise AssistantError("請給 CSV 檔或 --row（擇一）/ give a CSV file or --row, not both")
    result = app.container.credit_desk.score_pd(
        user, csv_path=csv_path, row_json=row_json, reasons=reasons, top=top_n
    )
    out = result.as_dict()
    if not result.scored and result.errors:
        _show_errors(out["errors"])
        raise AssistantError("沒有可評分的資料列 / no row could be scored")
    if as_json:
        emit_json(out)
        return
    for s in result.scored:
        click.echo(f"{s.id}\tPD {s.pd:.1%}\t(line {s.line})")
        for r in s.reasons:
            click.echo(f"    {r.zh} / {r.en}")
    _show_errors(out["errors"])


@click.command("credit-pd")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", required=True)
@click.option("--id-column")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_credit_pd(
    csv_path: Path, target: str, id_column: str | None, folds: int, seed: int, as_json: bool
) -> None:
    """違約機率模型評測 / stratified k-fold ROC AUC, Brier score and calibration of the PD
    model against logistic regression and plain gradient boosting, on the same folds."""
    from assistant.modeleval.items import skipped_lines
    from evals.credit_pd import evaluate

    report = evaluate(csv_path, target, id_column=id_column, folds=folds, seed=seed)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"rows {report['rows']}  positives {report['positives']}  "
        f"bad rows {report['bad_rows']}  folds {report['folds']}  "
        f"Brier(base rate) {report['brier_base']}"
    )
    for line in skipped_lines(report["skipped_items"]):
        click.echo(line)
    click.echo(f"{'model':18} {'AUC':>7} {'Brier':>7} {'logloss':>8} {'ECE':>7} {'seconds':>8}")
    for name, m in report["models"].items():
        click.echo(
            f"{name:18} {m['auc']:7.4f} {m['brier']:7.4f} {m['log_loss']:8.4f} "
            f"{m['ece']:7.4f} {m['seconds']:8.1f}"
        )
