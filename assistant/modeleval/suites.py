"""The two quality suites, one item at a time so a run can store and resume each item.

exam: a multiple-choice question straight to the model, its answer decoded under a JSON schema
that admits only the option labels. regulation: a question through the whole assistant (guard,
route, retrieval, answer, audit), judged on its citations and on refusing when the corpus has
no basis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from statistics import mean
from typing import Any

from assistant.answers import Answer
from assistant.audit import AuditLog
from assistant.llm.base import LLM, LLMError, Message
from assistant.llm.script import simplified_share
from assistant.modeleval.answer import answer_schema, extract_choice
from assistant.modeleval.exams import ExamItem
from assistant.modeleval.items import Loaded
from assistant.permissions import UserContext
from assistant.service import AssistantService
from knowledge.analyzer import fold
from knowledge.articles import article_label, normalise_article
from knowledge.catalog import Catalog

EXAM_SYSTEM = (
    "你是參加臺灣金融證照考試的考生。請閱讀題目與選項，選出唯一正確的答案，只回答選項代號。\n"
    "You are taking a Taiwanese financial licensing exam: choose the one correct option and "
    "answer with its label only."
)
EXAM_MAX_TOKENS = 48  # {"answer": "3"} with whitespace to spare; a prose answer is cut short


def exam_messages(item: ExamItem) -> list[Message]:
    options = "\n".join(f"({label}) {text}" for label, text in item.options.items())
    labels = "、".join(item.options)
    return [
        Message("system", EXAM_SYSTEM),
        Message("user", f"{item.question}\n{options}\n\n請回答選項代號（{labels}）。"),
    ]


def run_exam_item(llm: LLM, item: ExamItem) -> dict[str, Any]:
    labels = list(item.options)
    result: dict[str, Any] = {"id": item.id, "subject": item.subject, "gold": item.answer}
    try:
        out = llm.complete(
            exam_messages(item), max_tokens=EXAM_MAX_TOKENS, json_schema=answer_schema(labels)
        )
    except LLMError as exc:
        # Output cut off or a question longer than the context: no usable answer, counted so.
        return {**result, "predicted": None, "correct": False, "error": str(exc)[:300]}
    data = out.data if isinstance(out.data, dict) else {}
    predicted = data.get("answer") if data.get("answer") in labels else None
    if predicted is None:
        # A backend that ignored the schema (some servers do): read the answer from the text.
        predicted = extract_choice(out.text, labels)
    return {
        **result,
        "predicted": predicted,
        "correct": predicted == item.answer,
        "raw": out.text[:200],
        "tokens_in": out.tokens_in,
        "tokens_out": out.tokens_out,
        "seconds": round(out.seconds, 4),
    }


def summarise_exam(results: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(results)
    answered = sum(r["predicted"] is not None for r in results)
    correct = sum(bool(r["correct"]) for r in results)
    subjects: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("subject"):
            subjects.setdefault(r["subject"], []).append(r)
    return {
        "total": total,
        "answered": answered,
        "correct": correct,
        # Unanswered counts as wrong: a model that declines half the exam does not score on
        # the half it chose.
        "accuracy": correct / total if total else None,
        "accuracy_answered": correct / answered if answered else None,
        "no_answer_rate": (total - answered) / total if total else None,
        "per_subject": {
            s: {
                "total": len(rs),
                "correct": sum(bool(r["correct"]) for r in rs),
                "accuracy": sum(bool(r["correct"]) for r in rs) / len(rs),
            }
            for s, rs in sorted(subjects.items())
        },
        "mean_seconds": mean(r.get("seconds", 0.0) for r in results) if results else None,
    }


def load_regulation_cases(path: Path, no_basis: bool = False) -> Loaded[dict[str, Any]]:
    """Questions in the retrieval eval's JSONL ({"id", "q", "gold"}); ``no_basis`` files hold
    questions the corpus cannot answer, where the right outcome is a refusal. Malformed lines
    are skipped and listed in ``.skipped``."""
    from evals.agents import load_cases

    cases = load_cases(path)
    for case in cases:
        case["kind"] = "no_basis" if no_basis or case.get("no_basis") else "gold"
        # Ids are unique within a file; the file's name makes them unique within a run.
        case["item_id"] = f"{path.stem}/{case['id']}"
    return cases


_CITED = re.compile(r"〔([^〔〕]{2,80})〕")


def _norm(label: str) -> str:
    return re.sub(r"\s+", "", fold(label)).lower()


def run_regulation_item(
    service: AssistantService,
    catalog: Catalog,
    audit: AuditLog,
    user: UserContext,
    case: dict[str, Any],
) -> dict[str, Any]:
    ans: Answer = service.ask(user, case["q"])
    # What the answer could rest on: the chunks the audit trail recorded as retrieved.
    chunks = audit.get(ans.audit_id).chunks if ans.audit_id is not None else []
    retrieved = {c.get("chunk_id") or c.get("id") for c in chunks} - {None}
    payloads = catalog.get({c.chunk_id for c in ans.citations} | retrieved)
    invented = [
        c.label for c in ans.citations if c.chunk_id not in payloads or c.chunk_id not in retrieved
    ]
    # A label the model wrote in 〔〕 that names no retrieved article was cited from memory: the
    # agent shows it as unverified, the eval counts it as invented. Composed answers list the
    # retrieved articles beyond the cited ones by label too: those are grounded.
    grounded = {_norm(c.label) for c in ans.citations} | {
        _norm(article_label(p["law"], p["article"], p.get("lang", "zh-TW")))
        for cid, p in payloads.items()
        if cid in retrieved
    }
    for m in _CITED.finditer(ans.answer):
        if _norm(m.group(1)) not in grounded and m.group(1) not in invented:
            invented.append(m.group(1))
    row: dict[str, Any] = {
        "id": case["id"],
        "kind": case["kind"],
        "agent": ans.agent,
        "cited": [c.label for c in ans.citations],
        "invented": invented,
        "refused": bool(ans.no_basis or ans.refused),
        "no_basis": ans.no_basis,
        "generated": ans.generated,
        "llm_calls": ans.llm_calls,
        "latency_ms": round(ans.latency_ms, 1),
        "model_ms": round(ans.model_ms, 1),
        "first_token_ms": None if ans.first_token_ms is None else round(ans.first_token_ms, 1),
        # Simplified-only characters in what the reader got (goal 0: the pipeline converts).
        "simplified_share": round(simplified_share(ans.answer), 4),
        # What the citation filter took out of the model's text: a refusal where retrieval
        # found articles, a loop, a label from memory.
        "dropped": list(ans.dropped),
        "cited_gold": None,
    }
    if case.get("gold"):
        gold = {(law, normalise_article(str(a))) for law, a in case["gold"]}
        got = {(c.law, normalise_article(c.article)) for c in ans.citations}
        row["cited_gold"] = bool(got & gold)
    return row


def _rate(values: list[bool]) -> float | None:
    return mean(values) if values else None


def summarise_regulation(results: list[dict[str, Any]]) -> dict[str, Any]:
    gold = [r for r in results if r["kind"] == "gold"]
    nobasis = [r for r in results if r["kind"] == "no_basis"]
    return {
        "total": len(results),
        "gold_questions": len(gold),
        "no_basis_questions": len(nobasis),
        "cited_gold": _rate([bool(r["cited_gold"]) for r in gold if r["cited_gold"] is not None]),
        # An answer is grounded when every article it cites exists and was retrieved.
        "grounded": _rate([not r["invented"] for r in results]),
        "invented_citations": sum(len(r["invented"]) for r in results),
        "refused_when_no_basis": _rate([r["refused"] for r in nobasis]),
        "refused_when_answerable": _rate([r["refused"] for r in gold]),
        "generated_rate": _rate([r["generated"] for r in results]),
        "mean_latency_ms": mean(r["latency_ms"] for r in results) if results else None,
        "p95_latency_ms": _quantile([r["latency_ms"] for r in results], 0.95),
        "mean_first_token_ms": _mean_of(r.get("first_token_ms") for r in results),
        "mean_model_calls": mean(r["llm_calls"] for r in results) if results else None,
        "simplified_share": _mean_of(r.get("simplified_share") for r in results),
        "answers_with_simplified": sum(bool(r.get("simplified_share")) for r in results),
        "model_refusals_dropped": sum("refusal" in r.get("dropped", []) for r in results),
        "loops_stopped": sum("loop" in r.get("dropped", []) for r in results),
        "labels_from_memory_dropped": sum(
            sum(d.startswith("uncited ") for d in r.get("dropped", [])) for r in results
        ),
    }


def _mean_of(values: Iterable[float | None]) -> float | None:
    have = [v for v in values if v is not None]
    return mean(have) if have else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
