"""Which agent takes a question. Fast signals first: keywords, then embedding similarity to
each agent's example questions; the model is asked only when those leave two agents too close.

The first agent is the generalist (compliance): a question with no sign of a specialist goes
to it. Similarity is used for English questions only: the bundled embedding model barely reads
Chinese, and on Chinese questions its similarities sent plain regulation questions to the FX
agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.registry import AgentSpec
from assistant.llm.base import LLMError, Message
from knowledge.analyzer import fold, is_mostly_english

KEYWORD_WEIGHT = 0.6  # keywords are precise when they fire; similarity catches the rest
ROUTE_SYSTEM = "判斷銀行員工的問題該交給哪一位助理，只輸出 JSON。/ Pick the assistant; JSON only."


@dataclass
class Routing:
    agent: str
    method: str  # only, keywords, default, similarity, model (ambiguous before the model)
    scores: dict[str, float] = field(default_factory=dict)


class Router:
    def __init__(self, specs: Sequence[AgentSpec], embedder: Any | None, margin: float) -> None:
        self._specs = list(specs)
        self._embedder = embedder
        self._margin = margin
        self._examples: np.ndarray | None = None
        self._owners: list[int] = []

    @property
    def agents(self) -> list[str]:
        return [s.name for s in self._specs]

    def titles(self, agent: str) -> tuple[str, str]:
        """The agent's name as users read it (zh, en), for a refusal."""
        spec = next(s for s in self._specs if s.name == agent)
        return spec.title_zh, spec.title_en

    def _keyword_scores(self, question: str) -> np.ndarray:
        text = fold(question).lower()
        hits = [sum(1 for k in s.keywords if fold(k).lower() in text) for s in self._specs]
        return np.minimum(np.asarray(hits, dtype=np.float32) / 3.0, 1.0)

    def _similarity_scores(self, question: str) -> np.ndarray:
        if self._embedder is None:
            return np.zeros(len(self._specs), dtype=np.float32)
        if self._examples is None:
            texts = [e for s in self._specs for e in s.examples]
            self._owners = [i for i, s in enumerate(self._specs) for _ in s.examples]
            self._examples = self._embedder.embed(texts, kind="query")
        sims = self._examples @ self._embedder.embed([question], kind="query")[0]
        best = np.zeros(len(self._specs), dtype=np.float32)
        for owner, sim in zip(self._owners, sims, strict=True):
            best[owner] = max(best[owner], float(sim))
        return np.clip(best, 0.0, 1.0)

    def classify(self, question: str) -> Routing:
        if len(self._specs) == 1:
            return Routing(self._specs[0].name, "only", {self._specs[0].name: 1.0})
        kw = self._keyword_scores(question)
        order = np.argsort(-kw)
        top, second = int(order[0]), int(order[1])
        if kw[top] > 0 and kw[second] == 0:
            # Only one agent's words appear: decided without embedding the question.
            scores = {s.name: round(float(v), 4) for s, v in zip(self._specs, kw, strict=True)}
            return Routing(self._specs[top].name, "keywords", scores)
        english = is_mostly_english(question)
        if not kw.any() and not english:
            scores = {s.name: 0.0 for s in self._specs}
            return Routing(self._specs[0].name, "default", scores)
        sim = self._similarity_scores(question) if english else np.zeros_like(kw)
        total = KEYWORD_WEIGHT * kw + (1.0 - KEYWORD_WEIGHT) * sim
        order = np.argsort(-total)
        scores = {s.name: round(float(v), 4) for s, v in zip(self._specs, total, strict=True)}
        top, second = int(order[0]), int(order[1])
        ambiguous = total[top] - total[second] < self._margin
        return Routing(self._specs[top].name, "ambiguous" if ambiguous else "similarity", scores)

    def route(self, question: str, llm: Any) -> Routing:
        r = self.classify(question)
        if r.method != "ambiguous":
            return r
        if llm is not None and llm.available:
            names = sorted(r.scores, key=lambda n: -r.scores[n])[:3]
            menu = "\n".join(
                f"- {s.name}: {s.title_zh} / {s.title_en}" for s in self._specs if s.name in names
            )
            schema = {
                "type": "object",
                "properties": {"agent": {"type": "string", "enum": names}},
                "required": ["agent"],
            }
            try:
                out = llm.complete(
                    [Message("system", ROUTE_SYSTEM), Message("user", f"{menu}\n\n{question}")],
                    max_tokens=32,
                    json_schema=schema,
                )
                agent = (out.data or {}).get("agent")
                if agent in names:
                    return Routing(agent, "model", r.scores)
            except LLMError:
                pass  # the fast answer stands
        return Routing(r.agent, "similarity", r.scores)
