"""The model's output in Taiwan Traditional: streamed phrases converted whole, structured data
converted value by value, Traditional text (the law, its quotes, our citation labels) passed
unchanged, the guard still catching the canary through the stage, and the measure of how much
of a text is Simplified. The law corpus check reads ../shared/data (never copied)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opencc
import pytest

from agents.context import MeteredLLM
from agents.promptguard import GuardedLLM, PromptLeak
from assistant.llm.base import Completion, Message
from assistant.llm.none import NoLLM
from assistant.llm.script import simplified_share, to_traditional, to_traditional_data
from assistant.llm.traditional import TraditionalStage
from assistant.model_pipeline import ModelPipeline, stages

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
ASK = [Message("system", "你是銀行助理"), Message("user", "服務契約有哪些限制？")]


class Scripted:
    """A backend that streams the pieces it is given and completes with their whole."""

    name = "scripted"
    context_size = 4096
    available = True

    def __init__(self, pieces: list[str], thinking: str = "", data: Any = None) -> None:
        self.pieces, self.thinking, self.data = pieces, thinking, data

    def count_tokens(self, text: str) -> int:
        return len(text)

    def complete(self, messages: list[Message], **kw: Any) -> Completion:
        return Completion(text="".join(self.pieces), thinking=self.thinking, data=self.data)

    def stream(
        self,
        messages: list[Message],
        *,
        on_thinking: Callable[[str], None] | None = None,
        **kw: Any,
    ) -> Iterator[str]:
        yield from self.pieces
        if self.thinking and on_thinking is not None:
            on_thinking(self.thinking)


def _stream(pieces: list[str], **kw: Any) -> list[str]:
    return list(TraditionalStage(Scripted(pieces, **kw)).stream(ASK))


def test_a_phrase_split_across_pieces_is_converted_whole() -> None:
    assert "".join(_stream(["付款协", "议和服务", "协议不限于"])) == "付款協議和服務協議不限於"
    # 软件 is a phrase (軟體); converted piece by piece it would read 軟件.
    assert "".join(_stream(["这个软", "件很好用。"])) == "這個軟體很好用。"
    assert to_traditional("件") == "件"


def test_a_stream_is_released_at_punctuation_not_held_to_the_end() -> None:
    shown = _stream(["银行应当", "审核，", "客户", "提交的", "文件。"])
    assert "".join(shown) == "銀行應當審核，客戶提交的文件。"
    assert shown[0] == "銀行應當審核，"  # released at the comma, before the model is done
    # A long run with no punctuation is released too, all but its last few characters.
    long = _stream(["银行应当审核客户提交", "的文件"])
    assert len(long) == 2 and "".join(long) == "銀行應當審核客戶提交的文件"


def test_a_completion_is_converted_text_reasoning_and_data() -> None:
    data = {"query": "利害关系人 无担保授信", "answer": "A", "items": ["服务协议", 3, None]}
    backend = Scripted(["本协议不限于付款协议。"], thinking="先查银行法", data=data)
    out = TraditionalStage(backend).complete(ASK)
    assert out.text == "本協議不限於付款協議。"
    assert out.thinking == "先查銀行法"
    # Values converted, keys and enum labels as they were.
    assert out.data == {
        "query": "利害關係人 無擔保授信",
        "answer": "A",
        "items": ["服務協議", 3, None],
    }
    assert to_traditional_data({"关系": "关系"}) == {"关系": "關係"}


def test_streamed_reasoning_is_converted() -> None:
    thoughts: list[str] = []
    stage = TraditionalStage(Scripted(["好。"], thinking="用户问的是银行法"))
    assert list(stage.stream(ASK, on_thinking=thoughts.append)) == ["好。"]
    assert thoughts == ["用戶問的是銀行法"]


def test_traditional_text_law_quotes_and_citation_labels_pass_unchanged() -> None:
    s2twp = opencc.OpenCC("s2twp")
    # What s2twp alone would do to correct Taiwan Traditional text: why it is not applied as is.
    written = "依程序提交文件與聲明，項目如下；授信對象設置於台北，不得干擾。"
    assert s2twp.convert(written) != written
    assert to_traditional(written) == written
    quote = "「這份文件依程序辦理」"
    label = "〔銀行法第32條〕"
    law = "「臺灣地區與大陸地區人民關係條例」"
    mixed = f"根据{law}及{label}，{quote}，银行应当审核。"
    assert to_traditional(mixed) == f"根據{law}及{label}，{quote}，銀行應當審核。"
    # A quote the model wrote in Simplified is converted like the rest.
    assert to_traditional("「银行法第三十二条」") == "「銀行法第三十二條」"


def test_banking_words_keep_their_banking_sense() -> None:
    # s2twp's Taiwan phrases are computing words: 对象→物件, 代码→程式碼, 项目→專案.
    assert to_traditional("授信对象为利害关系人") == "授信對象為利害關係人"
    assert to_traditional("请提供银行代码") == "請提供銀行代碼"
    assert to_traditional("以下项目") == "以下項目"
    # Its other Taiwan phrasing stays: 软件→軟體, 内存→記憶體.
    assert to_traditional("软件的内存不足") == "軟體的記憶體不足"


def test_the_guard_still_catches_the_canary_through_the_stage() -> None:
    canary = "TWFC0123456789ABCDEF"
    answer = ["本协议", "不限于", f"内部标记是 {canary[:9]}", f"{canary[9:]}，", "服务协议"]
    pipeline = ModelPipeline(Scripted(answer), canary=canary)
    turn = pipeline.for_turn()
    assert [type(s) for s in stages(turn)] == [MeteredLLM, GuardedLLM, TraditionalStage, Scripted]
    with pytest.raises(PromptLeak):
        list(turn.stream(ASK))
    with pytest.raises(PromptLeak):
        pipeline.for_turn().complete(ASK)
    clean = ModelPipeline(Scripted(["本协议", "不限于", "服务协议。"])).for_turn()
    assert "".join(clean.stream(ASK)) == "本協議不限於服務協議。"


def test_no_stage_over_the_none_backend() -> None:
    assert [type(s) for s in stages(ModelPipeline(NoLLM()).llm)] == [NoLLM]


def test_the_share_of_simplified_characters() -> None:
    for text in ("不限于", "付款协议", "服务协议", "应当", "银行"):
        assert simplified_share(text) > 0, text
    assert simplified_share("付款协议") == 0.5
    assert simplified_share("银行") == 0.5  # 行 is the same in both
    for text in ("銀行法第三十二條", "臺灣、台北、批准、占有、佣金、雇主、干擾、污染", "TWFC", ""):
        assert simplified_share(text) == 0.0, text


def test_the_law_corpus_passes_byte_identical() -> None:
    laws = SHARED / "laws" / "ChLaw.json"
    if not laws.is_file():
        pytest.skip(f"law corpus not found at {laws}; set ASSISTANT_SHARED_DATA")
    data = json.loads(laws.read_text(encoding="utf-8-sig"))
    texts = [law["LawName"] for law in data["Laws"]]
    texts += [a["ArticleContent"] for law in data["Laws"] for a in law["LawArticles"]]
    assert len(texts) > 2000
    # Every article (13,674 in the shared corpus; well under a second): none is changed, and
    # none holds a character the measure counts as Simplified.
    changed = [t[:40] for t in texts if to_traditional(t) != t]
    assert changed == []
    assert simplified_share("".join(texts)) == 0.0
