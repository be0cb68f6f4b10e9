"""The model writing prose over what code chose: streamed through the citation filter, stopped
when it loops. (The time to the first token is the turn's meter's: ``agents.context``.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.cite import CitationFilter
from agents.steps import emit
from assistant.llm.base import Message

# A model can emit control characters (NUL among them, which PostgreSQL text refuses).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Written:
    text: str  # what was shown, refusals and repeats left out
    cited: list[str]  # labels of the given articles the model pointed at
    unknown: list[str]  # labels it wrote from memory: dropped, never shown
    refused: bool  # it tried to say there is no basis
    looping: bool  # it repeated itself and was stopped
    thinking: str = ""
    figures: int = 0  # clauses dropped for a figure or a duty that was not code's

    def dropped(self) -> list[str]:
        """What was taken out of the model's text, for the trace and the eval."""
        return (
            (["refusal"] if self.refused else [])
            + (["loop"] if self.looping else [])
            + [f"uncited {label}" for label in self.unknown]
            + (["figure"] * self.figures)
        )


# The prompts' headings (agents.compliance.prompts): a small model copies them back.
ECHOES = ("條文摘錄：", "問題：", "Excerpts of the articles:", "Question:")


def write_over(
    llm: Any,
    messages: list[Message],
    labels: list[str],
    max_tokens: int,
    *,
    figures: Callable[[str], bool] | None = None,
) -> Written:
    """Stream the model's answer to the reader, clause by clause, citing only ``labels``;
    ``figures``: which clauses' figures the model may write (:mod:`agents.figures`)."""
    f = CitationFilter(labels, ECHOES, figures=figures)
    thinking: list[str] = []
    stream = llm.stream(messages, max_tokens=max_tokens, on_thinking=thinking.append)
    try:
        for raw in stream:
            shown = f.feed(_CONTROL.sub("", raw))
            if shown:
                emit("token", shown)
            if f.looping:
                break  # closing the stream stops the model; the lock is released with it
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    tail = f.finish()
    if tail:
        emit("token", tail)
    return Written(
        text=f.text,
        cited=f.cited,
        unknown=f.unknown,
        refused=f.refused,
        looping=f.looping,
        thinking=_CONTROL.sub("", "\n".join(thinking)),
        figures=f.figures_dropped,
    )
