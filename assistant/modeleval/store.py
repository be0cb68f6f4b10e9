"""Model-evaluation runs in the database: resumable, and listed for the admin page.

One row per run and one per finished item, keyed by (run, model sha256, suite, item id). Each
item is committed as it completes, so a run killed midway loses at most the item in flight;
running the same command again finds the unfinished run by its key and skips what is stored.
The same tables work on SQLite and PostgreSQL; importing this module registers them on
SQLModel.metadata, and the migrations make them (``assistant.schema``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine
from sqlmodel import Field, Session, SQLModel, col, func, select


def _now() -> datetime:
    return datetime.now(UTC)


class ModelEvalRunRow(SQLModel, table=True):
    __tablename__ = "model_eval_run"

    id: str = Field(primary_key=True, max_length=36)
    # Hash of what the command asked for (models, suites, files, limit): the resume key.
    key: str = Field(index=True, max_length=64)
    status: str = Field(default="running", max_length=16)  # running | done
    suites: str = ""
    created_at: datetime = Field(default_factory=_now, index=True)
    updated_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    models: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    corpus: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    report_dir: str = ""


class ModelEvalItemRow(SQLModel, table=True):
    __tablename__ = "model_eval_item"

    run_id: str = Field(primary_key=True, foreign_key="model_eval_run.id", max_length=36)
    model_sha: str = Field(primary_key=True, max_length=64)
    suite: str = Field(primary_key=True, max_length=32)
    item_id: str = Field(primary_key=True, max_length=128)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now)


def _run_dict(row: ModelEvalRunRow, items: int | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "status": row.status,
        "suites": row.suites.split(",") if row.suites else [],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "config": row.config,
        "models": row.models,
        "corpus": row.corpus,
        "summary": row.summary,
        "report_dir": row.report_dir,
    }
    if items is not None:
        out["items_done"] = items
    return out


class EvalStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open_run(
        self, key: str, config: dict[str, Any], suites: list[str], new: bool = False
    ) -> tuple[str, bool]:
        """(run id, resumed): the latest unfinished run with this key, or a fresh one."""
        with Session(self._engine) as s:
            if not new:
                stmt = (
                    select(ModelEvalRunRow)
                    .where(ModelEvalRunRow.key == key, ModelEvalRunRow.status != "done")
                    .order_by(col(ModelEvalRunRow.created_at).desc())
                    .limit(1)
                )
                row = s.exec(stmt).first()
                if row is not None:
                    return row.id, True
            run = ModelEvalRunRow(
                id=uuid.uuid4().hex[:12], key=key, suites=",".join(suites), config=config
            )
            s.add(run)
            s.commit()
            return run.id, False

    def done(self, run_id: str, model_sha: str, suite: str) -> dict[str, dict[str, Any]]:
        """item id → stored result, for what this run already finished."""
        with Session(self._engine) as s:
            stmt = select(ModelEvalItemRow).where(
                ModelEvalItemRow.run_id == run_id,
                ModelEvalItemRow.model_sha == model_sha,
                ModelEvalItemRow.suite == suite,
            )
            return {r.item_id: r.result for r in s.exec(stmt)}

    def save(
        self, run_id: str, model_sha: str, suite: str, item_id: str, result: dict[str, Any]
    ) -> None:
        with Session(self._engine) as s:
            s.merge(
                ModelEvalItemRow(
                    run_id=run_id, model_sha=model_sha, suite=suite, item_id=item_id, result=result
                )
            )
            run = s.get(ModelEvalRunRow, run_id)
            if run is not None:
                run.updated_at = _now()
                s.add(run)
            s.commit()

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set models, corpus, summary, report_dir; status="done" also stamps finished_at."""
        with Session(self._engine) as s:
            run = s.get(ModelEvalRunRow, run_id)
            if run is None:
                raise KeyError(run_id)
            for name, value in fields.items():
                setattr(run, name, value)
            run.updated_at = _now()
            if fields.get("status") == "done":
                run.finished_at = _now()
            s.add(run)
            s.commit()

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Past evaluations, newest first, as plain dicts (summary included, items not)."""
        with Session(self._engine) as s:
            counts = dict(
                s.exec(  # type: ignore[call-overload]
                    select(ModelEvalItemRow.run_id, func.count()).group_by(ModelEvalItemRow.run_id)
                ).all()
            )
            rows = s.exec(
                select(ModelEvalRunRow)
                .order_by(col(ModelEvalRunRow.created_at).desc())
                .limit(limit)
            ).all()
            return [_run_dict(r, counts.get(r.id, 0)) for r in rows]

    def get_run(self, run_id: str, items: bool = True) -> dict[str, Any] | None:
        """One run as a plain dict, with every stored item result when ``items``."""
        with Session(self._engine) as s:
            row = s.get(ModelEvalRunRow, run_id)
            if row is None:
                return None
            stmt = select(ModelEvalItemRow).where(ModelEvalItemRow.run_id == run_id)
            stored = list(s.exec(stmt))
            out = _run_dict(row, len(stored))
            if items:
                out["items"] = [
                    {
                        "model_sha": r.model_sha,
                        "suite": r.suite,
                        "item_id": r.item_id,
                        "result": r.result,
                    }
                    for r in stored
                ]
            return out


def list_runs(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    return EvalStore(engine).list_runs(limit)


def get_run(engine: Engine, run_id: str, items: bool = True) -> dict[str, Any] | None:
    return EvalStore(engine).get_run(run_id, items)
