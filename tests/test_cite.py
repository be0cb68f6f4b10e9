"""The citation filter between a model and the reader (agents.cite): what it lets through, what
it rewrites, what it drops, however the stream is cut into pieces."""

from __future__ import annotations

import pytest

from agents.cite import CitationFilter
from agents.figures import only_figures_from
from agents.prose import ECHOES

LABELS = ["銀行法第32條", "銀行法第33條"]


def run(pieces: list[str], labels: list[str] = LABELS) -> tuple[str, CitationFilter]:
    f = CitationFilter(labels, ECHOES)
    shown = "".join(f.feed(p) for p in pieces) + f.finish()
    return shown, f


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_numbers_become_labels_whatever_the_pieces(size: int) -> None:
    text = "不可以[1]。例外見［2］與【3】，另依〔銀行法第 33 條〕辦理。"
    shown, f = run(chunks(text, size))
    assert shown == "不可以〔銀行法第32條〕。例外見〔銀行法第33條〕與，另依〔銀行法第33條〕辦理。"
    assert f.cited == LABELS and f.unknown == []


def test_labels_from_memory_are_dropped_and_kept_aside() -> None:
    shown, f = run(["依〔公司法第999條〕", "應予處罰。"])
    assert shown == "依應予處罰。" and f.unknown == ["公司法第999條"]


def test_a_refusal_clause_is_never_shown() -> None:
    shown, f = run(chunks("根據摘錄，知識庫中沒有可依據的條文。但銀行不得為之[1]。", 3))
    assert "沒有可依據" not in shown and "銀行不得為之〔銀行法第32條〕。" in shown
    assert f.refused


def test_a_loop_is_stopped_and_its_repeats_dropped() -> None:
    f = CitationFilter(LABELS)
    out = f.feed("銀行不得對利害關係人放款。")
    for _ in range(5):
        out += f.feed("銀行不得對利害關係人放款。")
        if f.looping:
            break
    assert out == "銀行不得對利害關係人放款。" and f.looping


def test_punctuation_runs_are_a_loop() -> None:
    shown, f = run(["可以。", "；" * 30])
    assert shown.startswith("可以。") and shown.count("；") <= 1 and f.looping


def test_echoed_prompt_marks_and_headings_are_dropped() -> None:
    shown, _ = run(["條文摘錄：\n⟦資料 ab12 reference articles⟧\n", "銀行不得為之[1]。"])
    assert shown.strip() == "銀行不得為之〔銀行法第32條〕。"


def test_an_unclosed_marker_at_the_end_is_dropped_and_a_stray_bracket_kept() -> None:
    shown, _ = run(["可以。依〔銀行法第3"])
    assert shown == "可以。依"
    shown, _ = run(["注意 [" + "甲" * 100 + "。"])
    assert shown.startswith("注意 [甲")


@pytest.mark.parametrize("size", [1, 4, 100])
def test_where_code_gave_the_figures_a_clause_with_another_is_dropped(size: int) -> None:
    given = (
        "客戶（個人）要結購 30 萬美元匯出\n• 換算：USD 300,000 → TWD 9,093,000（本行賣出 30.31）"
    )
    text = (
        "應先填妥申報書[1]。客戶要準備 9,078,000 元台幣，匯率以 30.26 計，"
        "結購 30 萬美元需付新臺幣 9,093,000 元，依 30.31 計。"
        "旅客攜帶等值一萬美元須申報。16 歲以下由法定代理人辦理〔銀行法第33條〕。"
    )
    f = CitationFilter(LABELS, ECHOES, figures=only_figures_from(given))
    shown = "".join(f.feed(p) for p in chunks(text, size)) + f.finish()
    assert shown == (
        "應先填妥申報書〔銀行法第32條〕。結購 30 萬美元需付新臺幣 9,093,000 元，依 30.31 計。"
        "16 歲以下由法定代理人辦理〔銀行法第33條〕。"
    )
    assert f.figures_dropped == 3  # 9,078,000; 30.26; 一萬美元 (an age is not a figure)
    # Elsewhere (compliance answers quote the articles' own figures) they stay.
    kept, _ = run(chunks(text, size))
    assert "9,078,000" in kept and "一萬美元" in kept
