"""The compliance agent's nodes: search → (rewrite → search, when the first search is weak) →
compose. Module-level functions of the state and the run's context, which carries who asks,
the metered model and the typed dependencies (``RunContext.deps``)."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from agents.compliance import prompts
from agents.compliance.compose import (
    QUOTED,
    compose_without_model,
    coverage,
    key_terms,
    model_excerpts,
    permission_conflict,
    see_also_line,
    sources_line,
)
from agents.compliance.prompts import WEAK_EN, WEAK_ZH
from agents.compliance.state import ComplianceState
from agents.compliance.tools import search_regulations
from agents.context import RunContext, deps_of
from agents.deps import AgentDeps
from agents.promptguard import Fence
from agents.prose import write_over
from agents.steps import emit, node_span
from assistant.llm.base import LLMError, Message
from knowledge.analyzer import is_mostly_english
from knowledge.articles import find_article_refs, without_article_refs
from knowledge.fusion import rrf

# A short question that points back ("那第二項呢？", "what about fines?") continues the last turn.
_FOLLOW_UP = re.compile(
    r"^(那|那麼|這|此|其|它|上述|前述|同法|該法|該條|what about|how about|and\b)", re.I
)


def search(state: ComplianceState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    s, t = deps.settings, deps.telemetry
    steps = list(state.get("steps", []))
    calls = list(state.get("tool_calls", []))
    searches = list(state.get("searches", []))
    question = state["question"]
    query = state.get("query") or _with_context(deps, question, state.get("history", []))
    with node_span(t, "compliance.search", steps) as note:
        with t.span("tool.search_regulations", **{"tool.k": s.top_k}) as span:
            t.content(span, "tool.query", query)
            hits, call = search_regulations(deps.compliance, runtime.context.user, query, s.top_k)
            span.set_attribute("tool.hits", len(hits))
        calls.append(call)
        searches.append(hits)
        merged = searches[0] if len(searches) == 1 else _merge(searches, s.top_k)
        terms = key_terms(deps.retriever, question)
        best = max((coverage(deps.analyzer, terms, h) for h in merged), default=0.0)
        note(f"{len(hits)} hits, coverage {best:.2f}")
    weak = best < s.weak_coverage
    room = state.get("steps_used", 0) + 4 <= s.step_budget  # this, rewrite, search, compose
    can = s.rewrite_weak and runtime.context.llm.available and not state.get("rewritten")
    return {
        "rewrite_next": weak and room and can,
        "query": query,
        "searches": searches,
        "hits": merged,
        "coverage": best,
        "tool_calls": calls,
        "steps": steps,
        "steps_used": state.get("steps_used", 0) + 1,
    }


def after_search(state: ComplianceState) -> str:
    return "rewrite" if state.get("rewrite_next") else "compose"


def after_rewrite(state: ComplianceState) -> str:
    return "search" if state.get("query") != state.get("searched") else "compose"


def rewrite(state: ComplianceState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    t = deps_of(runtime).telemetry
    steps = list(state.get("steps", []))
    llm = runtime.context.llm
    question = state["question"]
    query = state.get("query", question)
    with node_span(t, "compliance.rewrite", steps) as note:
        try:
            out = llm.complete(
                [Message("system", prompts.REWRITE_SYSTEM), Message("user", question)],
                max_tokens=96,
                json_schema=prompts.REWRITE_SCHEMA,
            )
            query = str((out.data or {}).get("query", "")).strip() or query
            note("by model")
        except LLMError as exc:
            note(f"model failed, first search stands: {exc}")
    return {
        "query": query,
        "rewritten": True,
        "steps": steps,
        "steps_used": state.get("steps_used", 0) + 1,
    }


def compose(state: ComplianceState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    s, t = deps.settings, deps.telemetry
    steps = list(state.get("steps", []))
    question = state["question"]
    english = is_mostly_english(question)
    hits = state.get("hits", [])
    llm = runtime.context.llm
    asked = deps.retriever.analyse(question)
    terms = set(asked.tokens)  # key_terms(), from the one analysis
    weak = state.get("coverage", 0.0) < s.weak_coverage
    relevant = [h for h in hits if coverage(deps.analyzer, terms, h) > s.no_basis_coverage]
    # A question that asks under a law the corpus lacks (and names none it holds) has no basis,
    # whatever other laws' articles share its words.
    missing = asked.unknown_laws if not asked.laws else []
    result: dict[str, Any] = {"generated": False, "no_basis": False, "thinking": ""}
    pairs = deps.retriever.absent_articles(asked)
    law_en = deps.retriever.english_name(pairs[0][0]) if pairs and english else ""
    absent = prompts.absent_articles(pairs, english, law_en)
    if _bare_article(asked) and not state.get("history"):
        absent = prompts.law_not_named(asked.articles, english)
    with node_span(t, "compliance.compose", steps) as note:
        if absent:
            emit("token", absent)
            note("named articles absent")
        if missing:
            result.update(answer=prompts.missing_law(missing, english), citations=[], no_basis=True)
            emit("token", result["answer"])
            note(f"not in the corpus: {', '.join(missing)}")
        elif not relevant:
            # Nothing found holds the question's terms: say so, never answer from memory.
            result.update(
                answer=prompts.NO_BASIS_EN if english else prompts.NO_BASIS_ZH,
                citations=[],
                no_basis=True,
            )
            emit("token", result["answer"])
            note("no basis in the corpus")
        elif llm.available and not absent:
            # (An article the law does not have is never worded by a model: a small one,
            # told so, still presented the nearest article as the one asked for. The nearest
            # articles are quoted instead, below.)
            try:
                result.update(
                    _generate(deps, state, hits, terms, english, weak, llm, runtime.context.fence)
                )
                dropped = result["dropped"]
                note(
                    f"by model {llm.name}" + (f" (dropped {', '.join(dropped)})" if dropped else "")
                )
            except LLMError as exc:
                body = compose_without_model(deps.analyzer, terms, hits[: s.cite_k], english, weak)
                result.update(answer=f"（{exc}）\n\n{body}", citations=hits[: s.cite_k])
                emit("token", result["answer"])
                note(f"model failed, composed: {exc}")
        else:
            cited = hits[: s.cite_k]
            result.update(
                answer=compose_without_model(deps.analyzer, terms, cited, english, weak),
                citations=cited,
            )
            emit("token", result["answer"])
            note(f"composed from {len(cited)} articles")
    if absent:
        result["answer"] = absent + result["answer"]
    result.update(
        tool_calls=state.get("tool_calls", []),
        steps=steps,
        chunks=[{k: h.get(k) for k in ("chunk_id", "law", "article", "amended")} for h in hits],
    )
    return {"result": result, "steps": steps}


# What a question that is only an article number says around it (「第33條規定什麼？」).
_FILLER = re.compile(
    r"規定|內容|是什麼|什麼|說了|說|寫|的|呢|嗎|請問|what|does|say|is|[\s\W_]", re.IGNORECASE
)


def _bare_article(asked: Any) -> bool:
    """Only an article number, nothing else to search by, and no law named."""
    if not asked.articles or asked.laws:
        return False
    return not _FILLER.sub("", without_article_refs(asked.text))


def _generate(
    deps: AgentDeps,
    state: ComplianceState,
    hits: list[dict[str, Any]],
    terms: set[str],
    english: bool,
    weak: bool,
    llm: Any,
    fence: Fence,
) -> dict[str, Any]:
    """The model writes the prose; code chose the articles, and cites them.

    The model reads the sentences of the first articles that hold the question's terms, not the
    whole articles (a small prompt is what keeps a 2-core machine answering in seconds), and
    points at them by number. The answer cites the same articles as one composed without a
    model: a model can word the answer, never lose the article that answers it.
    """
    s = deps.settings
    read = hits[:QUOTED]
    cited = hits[: s.cite_k]
    excerpts = model_excerpts(deps.analyzer, terms, read)
    messages = [Message("system", prompts.SYSTEM_EN if english else prompts.SYSTEM_ZH)]
    for turn in state.get("history", [])[-s.history_turns :] if s.history_turns else []:
        messages.append(Message("user", turn["question"]))
        messages.append(Message("assistant", turn["answer"]))
    messages.append(
        Message("user", prompts.context_block(excerpts, english, fence), trimmable=True)
    )
    messages.append(Message("user", prompts.question_block(state["question"], english)))
    head = ((WEAK_EN if english else WEAK_ZH) + "\n\n") if weak else ""
    if head:
        emit("token", head)
    written = write_over(llm, messages, [h["label"] for h in read], s.answer_max_tokens)
    body = written.text
    if not body:
        # The model wrote nothing usable (only a refusal, or nothing at all): the articles
        # retrieval found stand, quoted.
        body = compose_without_model(deps.analyzer, terms, cited, english)
        emit("token", body)
    warning = permission_conflict(state["question"], written.text, excerpts, english)
    if warning:
        body += "\n\n" + warning
        emit("token", "\n\n" + warning)
    tail = "\n\n" + sources_line(cited[: len(read)], english, dated=True)
    if cited[len(read) :]:
        tail += "\n" + see_also_line(cited[len(read) :], english)
    emit("token", tail)
    return {
        "answer": head + body + tail,
        "citations": cited,
        "generated": bool(written.text),
        "no_basis": False,
        "thinking": written.thinking,
        "dropped": written.dropped(),
    }


def _with_context(deps: AgentDeps, question: str, history: list[Any]) -> str:
    """A follow-up that names no law is searched with the law the last answer cited; so is an
    article number alone (「第35條呢？」 after an answer about 銀行法)."""
    follow_up = bool(_FOLLOW_UP.match(question.strip()))
    if not history or not (follow_up or find_article_refs(question)):
        return question  # the common case, decided without analysing the question
    asked = deps.retriever.analyse(question)
    if asked.laws or not (follow_up or _bare_article(asked)):
        return question
    cited = history[-1].get("citations") or []
    law = re.sub(r"(第.+條| Article .+)$", "", cited[0]) if cited else ""
    return f"{law} {question}" if law else question


def _merge(searches: list[list[dict[str, Any]]], k: int) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    ranked = []
    for hits in searches:
        ranked.append([(h["chunk_id"], h["score"]) for h in hits])
        for h in hits:
            by_id.setdefault(h["chunk_id"], h)
    fused = rrf(ranked)
    return [by_id[cid] for cid, _ in fused[:k]]
