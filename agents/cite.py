"""What a model may write in a compliance answer, enforced on the stream as it comes.

The articles an answer rests on are chosen in code (the agents' nodes); the model only writes
the prose over numbered excerpts of them. This filter sits between the model and the reader:

- ``[2]`` becomes the second article's label, 〔銀行法第32條〕; a number outside the excerpts is
  dropped (a small model counts past its list);
- a label the model writes itself in 〔〕 passes only when it names one of the given articles;
  any other is dropped and kept in ``unknown`` (cited from memory: never shown as a source);
- a clause that declares there is no basis is dropped: whether the corpus holds a basis is
  decided by retrieval, not by the model (``refused`` says that it tried);
- a clause the model has already written is dropped, and a third time is a loop (small models
  repeat themselves until the token limit): ``looping`` turns true and the caller stops;
- with a ``figures`` check (the FX desk, where code computed every amount and duty), a clause
  the check refuses is dropped: a small model restates sums wrongly, recalls thresholds from
  memory, or says 「要申報」 where code found no duty (``agents.figures``).

Text is released a clause at a time, so the reader sees the answer as it is written and never
a clause that is then taken back: what streams is what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from knowledge.analyzer import fold

# A bracketed number the model uses for an excerpt: [1], ［1］, 【1】, (1) is left alone.
_NUMBER = re.compile(r"[\[［【]\s*(\d{1,2})\s*[\]］】]")
_LABEL = re.compile(r"〔([^〔〕]{1,80})〕")
_OPENERS = "[［【〔"
_CLOSERS = {"[": "]", "［": "］", "【": "】", "〔": "〕"}
_CLAUSE_END = "。！？!?\n；;，,、：:"
# What a refusal looks like in a small model's words.
_REFUSAL = re.compile(
    r"(沒有可依據|無可依據|沒有相關(的)?(條文|規定|資訊)|無法(回答|提供|確定)|"
    r"未(提及|規定|明確規定)|抱歉|no basis|holds no article|cannot answer|not mentioned)",
    re.I,
)
_MIN_LOOP = 8  # a repeated sentence shorter than this ("是的。") is not a loop


def norm_label(label: str) -> str:
    return re.sub(r"\s+", "", fold(label)).lower()


class CitationFilter:
    def __init__(
        self,
        labels: list[str],
        echoes: tuple[str, ...] = (),
        *,
        figures: Callable[[str], bool] | None = None,
    ) -> None:
        """``echoes``: the prompt's own headings ("條文摘錄：", "問題："), which a small model
        copies into its answer; a clause that is one of them is dropped. ``figures``: True for
        a clause whose figures the model may write (``agents.figures``); None: any."""
        self.labels = labels
        self._figures = figures
        self.figures_dropped = 0
        self._echoes = {re.sub(r"\s", "", e) for e in echoes}
        self._bare = 0  # clauses in a row that are punctuation only
        self._space = ""  # blank lines held until more text follows: none lead or trail
        self._by_norm = {norm_label(lb): lb for lb in labels}
        self.unknown: list[str] = []
        self.cited: list[str] = []  # given labels the model cited, first citation first
        self.refused = False
        self.looping = False
        self._pending = ""  # text not yet judged: an open marker, or the start of a clause
        self._clause = ""  # the clause being written, markers already rewritten
        self._seen: dict[str, int] = {}
        self.text = ""  # everything released: the stream and the stored answer are this text

    def feed(self, piece: str) -> str:
        """The part of the model's text that can be shown now: whole clauses."""
        self._pending += piece
        out: list[str] = []
        while self._pending and not self.looping:
            p = self._pending
            at = next((i for i, c in enumerate(p) if c in _OPENERS or c in _CLAUSE_END), -1)
            if at == -1:
                self._clause += p
                self._pending = ""
            elif p[at] in _OPENERS:
                close = p.find(_CLOSERS[p[at]], at)
                if close == -1 and len(p) - at <= 90:
                    self._clause += p[:at]
                    self._pending = p[at:]
                    break  # wait for the marker to close
                if close == -1:  # no label is this long: a stray bracket, kept as text
                    self._clause += p[: at + 1]
                    self._pending = p[at + 1 :]
                    continue
                self._clause += p[:at] + self._marker(p[at : close + 1])
                self._pending = p[close + 1 :]
            else:
                # A comma after a digit may be a thousands separator: the next character says.
                after_digit = p[at] == "," and (p[at - 1] if at else self._clause[-1:]).isdigit()
                if after_digit and at + 1 == len(p):
                    break
                self._clause += p[: at + 1]
                self._pending = p[at + 1 :]
                if not (after_digit and p[at + 1].isdigit()):  # 9,078,000 is one figure
                    out.append(self._close())
        return "".join(out)

    def finish(self) -> str:
        """Whatever is still held back, at the end of the stream."""
        rest, self._pending = self._pending, ""
        if not self.looping:
            # An unclosed marker at the end is an unfinished citation: dropped, never shown half.
            at = next((i for i, c in enumerate(rest) if c in _OPENERS), len(rest))
            self._clause += rest[:at]
        return self._close() if not self.looping else ""

    # -- internals ----------------------------------------------------------------------------

    def _marker(self, marker: str) -> str:
        m = _NUMBER.fullmatch(marker)
        if m:
            n = int(m.group(1))
            return self._cite(self.labels[n - 1]) if 1 <= n <= len(self.labels) else ""
        m = _LABEL.fullmatch(marker)
        if m:
            label = self._by_norm.get(norm_label(m.group(1)))
            if label is not None:
                return self._cite(label)
            if m.group(1) not in self.unknown:
                self.unknown.append(m.group(1))
            return ""
        return marker  # "[注意]" and the like: ordinary text

    def _cite(self, label: str) -> str:
        if label not in self.cited:
            self.cited.append(label)
        return f"〔{label}〕"

    def _close(self) -> str:
        """Judge the finished clause: a refusal is dropped, a repeat is dropped (and a third
        time stops the model), anything else is released. Whitespace between clauses is held
        until the next clause is released, so an answer neither starts nor ends blank and
        never has more than one blank line in a row."""
        clause, self._clause = self._clause, ""
        if not clause.strip():
            self._space += clause
            return ""
        body = clause.strip()
        lead = self._space + clause[: len(clause) - len(clause.lstrip())]
        trail = clause[len(clause.rstrip()) :]
        self._space = lead  # kept for the next clause if this one is dropped
        core = re.sub(r"〔[^〕]*〕|\s|[，,、：:。！？!?；;]", "", body)
        if not core:
            # "；；；；": a model stuck on punctuation is looping too.
            self._bare += 1
            if self._bare > 3:
                self.looping = True
            if self._bare > 1:
                return ""
        else:
            self._bare = 0
            if "⟦" in body or "⟧" in body or re.sub(r"\s", "", body) in self._echoes:
                return ""  # the prompt's fence marks and headings, copied: not an answer
            if _REFUSAL.search(core):
                self.refused = True
                return ""
            if self._figures is not None and not self._figures(body):
                self.figures_dropped += 1
                return ""
            if len(core) >= _MIN_LOOP:
                seen = self._seen.get(core, 0)
                self._seen[core] = seen + 1
                if seen >= 2:
                    self.looping = True
                if seen >= 1:
                    return ""
        out = (_between(lead) if self.text else "") + body
        self._space = trail
        self.text += out
        return out


def _between(space: str) -> str:
    """The whitespace shown between two clauses: at most one blank line."""
    lines = space.count("\n")
    return "\n" * min(lines, 2) if lines else space
