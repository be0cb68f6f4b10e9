"""The model as every caller gets it: one backend with its stages stacked in one order.

This is the one place that wraps a model. The composition root (``Container``) builds a
:class:`ModelPipeline` once per backend; the service asks it for each turn's model with
:meth:`ModelPipeline.for_turn`. Outermost first, as a call passes through them:

1. :class:`~agents.context.MeteredLLM`, new every turn: counts the turn's calls and the time
   spent below it. Outermost, so each call the graph makes is counted once and the time is what
   the turn waited on the model and its stages, never the time the graph holds a piece
   (``answer.model_ms``).
2. :class:`~agents.promptguard.GuardedLLM`, new every turn: the canary and the data rule first in
   the system prompt; every output scanned for the canary, a stream's last 96 characters held
   back until they are known clean. Above the pseudonymiser, so it scans what the reader would
   read: a canary a remote model echoes comes back from a pseudonym as itself. Above the trace,
   so the span measures the model, not the guard's held-back text. Above the conversion to
   Traditional, so it scans the text the reader gets (the canary is ASCII: no conversion
   touches it).
3. :class:`~assistant.llm.traditional.TraditionalStage`, one per process, over a backend that is
   ``available``: the model's Simplified Chinese converted to Taiwan Traditional (OpenCC
   ``s2twp``; Traditional text and quotes of the law pass unchanged). Below the guard and the
   meter, so every stage and agent above it, and whatever they stream, store or audit, sees
   only Traditional text; above the trace, so a span records what the model actually wrote
   and shows how often it drifts. The ``none`` backend writes nothing: no stage.
4. :class:`~assistant.telemetry.TracedLLM`, one per process: one span per call with the prompt
   as the model reads it (the guard's canary and rule counted in ``llm.tokens_in``) and the time
   to first token as the model delivers it. Above the pseudonymiser, so the spans are alike for
   every backend; identifiers on them are masked by the span exporter before any exporter sees
   them (``assistant.pii``).
5. :class:`~assistant.llm.masked.PseudonymisingLLM`, one per process, only over a backend whose
   text leaves the process (``remote`` true, the ``openai`` backend) unless ``mask_remote`` is
   off: the last stage before text leaves, so everything that leaves is pseudonymised (the
   guard's prompt and the fenced data included) and every stage above sees the real text.
6. The backend. While an administrator has switched the model off, a turn gets
   :class:`~assistant.llm.none.NoLLM` in place of stages 3–6: no call is made, so nothing is
   traced, and the agents answer without a model.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.context import MeteredLLM
from agents.promptguard import GuardedLLM, new_canary
from assistant.llm.base import LLM
from assistant.llm.masked import PseudonymisingLLM
from assistant.llm.none import NoLLM
from assistant.llm.traditional import TraditionalStage
from assistant.telemetry import Telemetry, TracedLLM


class ModelPipeline:
    def __init__(
        self,
        backend: LLM,
        *,
        telemetry: Telemetry | None = None,
        mask_remote: bool = True,
        canary: str | None = None,
        enabled: Callable[[], bool] | None = None,
    ) -> None:
        """``telemetry`` None: no spans (a tool that measures a model alone). ``enabled``: the
        administrators' switch, read on every turn."""
        self.backend = backend
        llm = backend
        if mask_remote and getattr(backend, "remote", False):
            llm = PseudonymisingLLM(llm)
        if telemetry is not None:
            llm = TracedLLM(llm, telemetry)
        if backend.available:
            llm = TraditionalStage(llm)
        # Stages 3-6, shared by every turn and every user.
        self.llm: LLM = llm
        # One canary for the process: random, so no document or question can know it.
        self.canary = canary or new_canary()
        self._enabled = enabled or (lambda: True)

    @property
    def name(self) -> str:
        return self.llm.name

    @property
    def available(self) -> bool:
        """A model is configured (whether or not it is switched on)."""
        return self.llm.available

    def enabled(self) -> bool:
        return self._enabled()

    def for_turn(self) -> MeteredLLM:
        """The model for one turn: metered for it alone, guarded, and no model at all while it
        is switched off (checked now, so the switch takes effect on the next turn)."""
        llm = self.llm if self._enabled() else NoLLM()
        return MeteredLLM(GuardedLLM(llm, self.canary))


def stages(llm: LLM) -> list[LLM]:
    """A model's stages, outermost first, down to its backend (for tests and diagnostics)."""
    out = [llm]
    while (inner := getattr(out[-1], "inner", None)) is not None:
        out.append(inner)
    return out
