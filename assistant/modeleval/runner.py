"""Several models side by side in one run: cost, exam and regulation suites, resumable.

Models are evaluated one after another in this process (one loaded at a time, so memory figures
are per model). Each finished item is stored at once; the run's key is a hash of what was asked
(model files by sha256, suites, question files by content, limit), so the same command run again
resumes the unfinished run and only the missing items are asked.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from assistant.container import Container
from assistant.llm import LLM, make_llm
from assistant.llm.model_store import ModelStore
from assistant.llm.none import NoLLM
from assistant.modeleval.cost import measure_cost, model_info
from assistant.modeleval.exams import ExamItem, load_exam
from assistant.modeleval.items import Loaded
from assistant.modeleval.report import write_reports
from assistant.modeleval.store import EvalStore
from assistant.modeleval.suites import (
    load_regulation_cases,
    run_exam_item,
    run_regulation_item,
    summarise_exam,
    summarise_regulation,
)
from assistant.settings import LLMSettings
from knowledge.catalog import ChunkRow

SUITES = ("exam", "regulation")
NONE = "none"  # stands for the no-model backend in a model list
NEEDS_MODEL = "考試需要模型 / an exam needs a model"

Progress = Callable[[str, int, int], None]
# Called after each item is stored: (model sha256, suite, item id). Tests raise here to
# simulate a run killed midway.
AfterItem = Callable[[str, str, str], None]


@dataclass
class RunOptions:
    models: list[str]  # GGUF paths, installed model names, or "none"
    suites: list[str] = field(default_factory=lambda: list(SUITES))
    exam: Path | None = None
    questions: list[Path] = field(default_factory=list)  # regulation JSONL with gold articles
    no_basis: list[Path] = field(default_factory=list)  # questions the corpus cannot answer
    limit: int | None = None
    out_dir: Path | None = None
    new: bool = False


def _file_sha(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def corpus_snapshot(container: Container) -> dict[str, Any]:
    """What the knowledge base held when the run was made: a regulation score is only
    comparable with another made on the same snapshot."""
    laws: dict[str, dict[str, Any]] = {}
    digest = hashlib.sha256()
    with Session(container.engine) as s:
        stmt = select(ChunkRow.id, ChunkRow.hash, ChunkRow.law_zh, ChunkRow.payload).order_by(
            ChunkRow.id
        )
        for cid, h, law, payload in s.exec(stmt):
            digest.update(f"{cid}:{h}\n".encode())
            amended = json.loads(payload).get("amended") or ""
            entry = laws.setdefault(law, {"law": law, "chunks": 0, "amended": ""})
            entry["chunks"] += 1
            entry["amended"] = max(entry["amended"], amended)
    n = sum(e["chunks"] for e in laws.values())
    return {
        "chunks": n,
        "documents": len(laws),
        # The latest amendment date in the corpus: it reflects the law up to that day.
        "snapshot_date": max((e["amended"] for e in laws.values()), default="") or None,
        "fingerprint": digest.hexdigest()[:16] if n else None,
        "laws": sorted(laws.values(), key=lambda e: e["law"]),
    }


def _skipped(suite: str, path: Path, loaded: Loaded[Any]) -> list[dict[str, str]]:
    return [{"suite": suite, "file": path.name, **s.as_dict()} for s in loaded.skipped]


class ModelEvalRunner:
    def __init__(
        self,
        container: Container,
        progress: Progress | None = None,
        after_item: AfterItem | None = None,
        llm_settings: LLMSettings | None = None,
    ) -> None:
        self.c = container
        # Context, threads and GPU layers for every model file: the configured ones unless
        # the caller measures under others (tests pin one thread on a shared runner).
        self._llm_settings = llm_settings or container.settings.llm
        self.store = EvalStore(container.engine)
        self._progress = progress or (lambda stage, done, total: None)
        self._after = after_item or (lambda sha, suite, item: None)

    # -- what is asked --------------------------------------------------------------------

    def _models(self, names: list[str]) -> list[dict[str, Any]]:
        infos: list[dict[str, Any]] = []
        for name in names:
            if name == NONE:
                info: dict[str, Any] = {"file": NONE, "sha256": NONE, "backend": NONE}
            else:
                # A catalog name ("smollm2") is its installed file; one not installed says
                # how to install it.
                path = ModelStore(self.c.settings.data_dir).resolve(name)
                if not path.is_file():
                    raise FileNotFoundError(f"找不到模型檔 / model file not found: {path}")
                info = model_info(path, self.c.audit.fingerprint)
            if all(i["sha256"] != info["sha256"] for i in infos):  # the same file named twice
                infos.append(info)
        if not infos:
            raise ValueError("請指定模型 / give at least one model (a .gguf file or 'none')")
        return infos

    def _llm(self, info: dict[str, Any]) -> LLM:
        if info["backend"] == NONE:
            return NoLLM()
        # The configured llama.cpp settings (context, threads, GPU layers) with another file.
        settings = self._llm_settings.model_copy(
            update={"backend": "llama_cpp", "model_path": Path(info["path"])}
        )
        return make_llm(settings)

    def _key(self, opts: RunOptions, infos: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        config: dict[str, Any] = {
            "models": [i["sha256"] for i in infos],
            "suites": sorted(opts.suites),
            "limit": opts.limit,
            "context_size": self._llm_settings.context_size,
        }
        if "exam" in opts.suites and opts.exam:
            config["exam"] = {"file": str(opts.exam), "sha256": _file_sha(opts.exam)}
        if "regulation" in opts.suites:
            config["questions"] = [{"file": str(p), "sha256": _file_sha(p)} for p in opts.questions]
            config["no_basis"] = [{"file": str(p), "sha256": _file_sha(p)} for p in opts.no_basis]
        blob = json.dumps(config, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest(), config

    # -- the run ----------------------------------------------------------------------------

    def run(self, opts: RunOptions) -> dict[str, Any]:
        bad = set(opts.suites) - set(SUITES)
        if bad or not opts.suites:
            raise ValueError(f"未知的測驗 / unknown suite: {', '.join(sorted(bad)) or '-'}")
        if "exam" in opts.suites and opts.exam is None:
            raise ValueError("請以 --exam 指定考題檔 / the exam suite needs --exam FILE")
        if "regulation" in opts.suites and not (opts.questions or opts.no_basis):
            raise ValueError("請以 --questions 指定法規題目 / the regulation suite needs questions")
        infos = self._models(opts.models)
        # Malformed items are left out and listed, per file; the limit counts the valid ones.
        skipped: list[dict[str, str]] = []
        exam: list[ExamItem] = []
        if "exam" in opts.suites and opts.exam:
            loaded = load_exam(opts.exam)
            skipped += _skipped("exam", opts.exam, loaded)
            exam = loaded[: opts.limit]
        cases: list[dict[str, Any]] = []
        for path, no_basis in [(p, False) for p in opts.questions] + [
            (p, True) for p in opts.no_basis
        ]:
            found = load_regulation_cases(path, no_basis=no_basis)
            skipped += _skipped("regulation", path, found)
            cases += found[: opts.limit]
        key, config = self._key(opts, infos)
        run_id, resumed = self.store.open_run(key, config, opts.suites, new=opts.new)
        corpus = corpus_snapshot(self.c)
        self.store.update_run(run_id, models=infos, corpus=corpus)

        models_out = []
        for info in infos:
            models_out.append(self._one_model(run_id, info, opts.suites, exam, cases))

        result: dict[str, Any] = {
            "run_id": run_id,
            "resumed": resumed,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "suites": opts.suites,
            "limit": opts.limit,
            "config": config,
            "corpus": corpus,
            "n_skipped": len(skipped),
            "skipped_items": skipped,
            "models": models_out,
        }
        out_dir = opts.out_dir or self.c.settings.data_dir / "model_evals" / run_id
        result["report"] = {k: str(v) for k, v in write_reports(result, out_dir).items()}
        summary = {k: v for k, v in result.items() if k not in ("corpus", "models")}
        # The items are in their own table already; the run row keeps the per-model summaries.
        summary["models"] = [{k: v for k, v in m.items() if k != "items"} for m in models_out]
        self.store.update_run(run_id, status="done", summary=summary, report_dir=str(out_dir))
        return result

    def _one_model(
        self,
        run_id: str,
        info: dict[str, Any],
        suites: list[str],
        exam: list[ExamItem],
        cases: list[dict[str, Any]],
    ) -> dict[str, Any]:
        llm = self._llm(info)
        try:
            return self._suites(run_id, info, llm, suites, exam, cases)
        finally:
            # One model in memory at a time: the next model's RSS delta is its own.
            del llm
            gc.collect()

    def _suites(
        self,
        run_id: str,
        info: dict[str, Any],
        llm: LLM,
        suites: list[str],
        exam: list[ExamItem],
        cases: list[dict[str, Any]],
    ) -> dict[str, Any]:
        sha = info["sha256"]
        label = info["file"]
        out: dict[str, Any] = {**info, "items": {}}
        if llm.available:
            done = self.store.done(run_id, sha, "cost")
            if "cost" not in done:
                # Measured first, on a model not yet loaded, so load time and memory are real.
                done["cost"] = measure_cost(llm)
                self.store.save(run_id, sha, "cost", "cost", done["cost"])
            out["cost"] = done["cost"]
        if "exam" in suites:
            if not llm.available:
                out["exam"] = {"skipped": NEEDS_MODEL}
            else:
                results = self._items(
                    run_id,
                    sha,
                    "exam",
                    f"{label} 考試 exam",
                    [(i.id, i) for i in exam],
                    lambda item: run_exam_item(llm, item),
                )
                out["exam"] = summarise_exam(results)
                out["items"]["exam"] = results
        if "regulation" in suites:
            service = self.c.service_with(llm)  # traced and guarded as in production
            user = self.c.eval_user()
            try:
                results = self._items(
                    run_id,
                    sha,
                    "regulation",
                    f"{label} 法規 regulation",
                    [(case["item_id"], case) for case in cases],
                    lambda case: run_regulation_item(
                        service, self.c.catalog, self.c.audit, user, case
                    ),
                )
            finally:
                service.close()
            out["regulation"] = summarise_regulation(results)
            out["items"]["regulation"] = results
        return out

    def _items(
        self,
        run_id: str,
        sha: str,
        suite: str,
        stage: str,
        items: list[tuple[str, Any]],
        ask: Callable[[Any], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        done = self.store.done(run_id, sha, suite)
        total = len(items)
        finished = sum(item_id in done for item_id, _ in items)
        self._progress(stage, finished, total)
        for item_id, item in items:
            if item_id in done:
                continue
            done[item_id] = ask(item)
            self.store.save(run_id, sha, suite, item_id, done[item_id])
            finished += 1
            self._progress(stage, finished, total)
            self._after(sha, suite, item_id)
        # In the order asked, resumed items included: the summary covers the whole run.
        return [done[item_id] for item_id, _ in items]
