"""The model's output in Taiwan Traditional Chinese, before anyone reads, stores or audits it.

:class:`TraditionalStage` converts what the model writes with :func:`~assistant.llm.script.
to_traditional`: the answer, its reasoning and a structured call's string values. Traditional
text, quotes of the law and citation labels pass unchanged. Where it sits in the pipeline, and
why, is stated in ``assistant.model_pipeline``.
"""

from __future__ import annotations

from dataclasses import replace

from assistant.llm.base import Completion
from assistant.llm.pipeline import Call, Stage
from assistant.llm.script import is_han, to_traditional, to_traditional_data

# OpenCC converts phrases (软件→軟體, 信息→資訊), so a phrase split across two pieces would be
# converted in halves. A stream's text is released up to its last character that no phrase
# spans (anything but a Han character: punctuation, a space, a newline, a digit); a run of
# Han characters longer than _RUN is released but for its last _KEEP, which wait for the next
# piece. Short on purpose: the reader sees the first words after a few tokens, not a sentence.
_RUN = 8
_KEEP = 4


class TraditionalStage(Stage):
    """Converts the model's Simplified Chinese to Taiwan Traditional; one per process."""

    def before(self, call: Call) -> Call:
        call.notes["held"] = ""
        return call

    def after(self, call: Call, out: Completion) -> Completion:
        return replace(
            out,
            text=to_traditional(out.text),
            thinking=to_traditional(out.thinking),
            data=to_traditional_data(out.data),
        )

    def on_thinking(self, call: Call, text: str) -> str:
        # Reasoning arrives whole from llama.cpp; no hook ends it, so nothing is held back here.
        return to_traditional(text)

    def on_piece(self, call: Call, piece: str) -> str:
        held = call.notes["held"] + piece
        cut = len(held)
        while cut > 0 and is_han(held[cut - 1]):
            cut -= 1
        if len(held) - cut > _RUN:
            cut = len(held) - _KEEP
        ready, call.notes["held"] = held[:cut], held[cut:]
        return to_traditional(ready) if ready else ""

    def on_end(self, call: Call) -> str:
        held, call.notes["held"] = call.notes["held"], ""
        return to_traditional(held) if held else ""
