"""Reasoning models (R1-style) write <think>…</think> before the answer: it belongs in the
trace, never in the answer. Works on a stream, where a tag may arrive split across chunks."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    def __init__(self) -> None:
        self.thinking: list[str] = []
        self._inside = False
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """Answer text of this chunk; thinking is kept aside."""
        text = self._pending + chunk
        self._pending = ""
        out: list[str] = []
        while text:
            tag = CLOSE if self._inside else OPEN
            at = text.find(tag)
            if at == -1:
                # Hold back a tail that could be the start of a tag.
                keep = max((n for n in range(1, len(tag)) if text.endswith(tag[:n])), default=0)
                body, self._pending = (text[:-keep], text[-keep:]) if keep else (text, "")
                (self.thinking if self._inside else out).append(body)
                break
            (self.thinking if self._inside else out).append(text[:at])
            self._inside = not self._inside
            text = text[at + len(tag) :]
        return "".join(out)

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        if self._inside:
            self.thinking.append(rest)
            return ""
        return rest


def split_thinking(text: str) -> tuple[str, str]:
    """(answer, thinking) of a whole completion."""
    s = ThinkSplitter()
    answer = s.feed(text) + s.finish()
    return answer.strip(), "".join(s.thinking).strip()
