"""Lexical analysis for Traditional Chinese and English legal text.

Chinese runs become jieba words (search mode, so 銀行法 also yields 銀行) plus character
bigrams, which catch the words jieba's dictionary does not know; English runs become
lower-cased, stemmed words. Text is never converted to Simplified: 台 is folded to 臺 only
inside the index, because statutes write 新臺幣 and staff type 新台幣.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|[A-Za-z][A-Za-z'\-]*|\d+(?:\.\d+)?")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_FOLD = str.maketrans({"台": "臺", "着": "著", "裏": "裡", "綫": "線", "啓": "啟"})

EN_STOPWORDS = frozenset(
    "a an the and or of to in on for by with at from as is are was were be been being it its "
    "this that these those which who whom what when where how why shall may must can could "
    "should would will not no any all such other than then there their they he she his her if "
    "into upon under do does did has have had i we you our your me my us".split()
)
# Words of a question that carry no subject matter. Dropped from jieba's words everywhere, and
# in a question they also cut the text before bigrams are taken, so 「銀行可以經營哪些業務」
# yields 銀行 / 經營 / 業務 and not the accidental 行可 / 以經 / 營哪 that match unrelated text.
ZH_STOPWORDS = frozenset(
    "的 了 嗎 呢 吧 啊 是 有 在 和 與 及 或 等 什麼 甚麼 哪些 哪個 哪裡 哪幾 怎麼 怎樣 如何 為何 是否 可以 "
    "能否 能不能 可不可以 要不要 需不需要 需要 會不會 請問 一下 我們 我 你 他 她 它 這 那 這個 那個 這些 "
    "那些 多少 幾 還 就 都 也 又 被 把 給 讓 對 向 從 規定 相關 有關 關於 依據 法律依據 應該 應 要 會 能 "
    "時 時候 的話 有沒有 是不是 還能 還可以 怎麼辦 有哪些 一定 呀 喔 哦 嘛 定義 意思 意義 何謂 所謂".split()
)
# Single characters that would cut real words (持有, 所得, 給付, 轉讓, 委員會) never cut.
_SAFE_SINGLE = frozenset("的了嗎呢吧啊呀喔哦嘛我你他她它這那是幾")
_QUESTION_CUT = re.compile(
    "|".join(
        sorted(
            (re.escape(w) for w in ZH_STOPWORDS if len(w) > 1 or w in _SAFE_SINGLE),
            key=len,
            reverse=True,
        )
    )
)


def fold(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII) and the 台/臺 family of variants."""
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


class Analyzer:
    """Turns text into index terms. Thread-safe; jieba loads once, on first use."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self._user_words = sorted(set(user_words))
        self._jieba = None
        self._stemmer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._jieba is not None:
                return
            import jieba
            import Stemmer

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            for word in self._user_words:
                tokenizer.add_word(fold(word), freq=2000)
            self._stemmer = Stemmer.Stemmer("english")
            self._jieba = tokenizer

    def add_words(self, words: Iterable[str]) -> None:
        """Teach the segmenter domain words (law names, defined terms) found in the corpus."""
        self._load()
        for word in words:
            self._jieba.add_word(fold(word), freq=2000)  # type: ignore[union-attr]

    def tokens(self, text: str) -> list[str]:
        self._load()
        out: list[str] = []
        for m in _RUN.finditer(fold(text)):
            run = m.group(0)
            if run[0] >= "\u3400":
                words = [w for w in self._jieba.cut_for_search(run, HMM=False)]  # type: ignore[union-attr]
                out.extend(w for w in words if w not in ZH_STOPWORDS and len(w) > 1)
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
                if len(run) == 1 and run not in ZH_STOPWORDS:
                    out.append(run)
            elif run[0].isdigit():
                out.append(run)
            else:
                word = run.lower().strip("'-")
                if word and word not in EN_STOPWORDS:
                    out.append(self._stemmer.stemWord(word))  # type: ignore[union-attr]
        return out

    def query_tokens(self, text: str) -> list[str]:
        """Terms of a question: like ``tokens``, after cutting the text at question words."""
        return self.tokens(_QUESTION_CUT.sub(" ", fold(text)))

    @staticmethod
    def chars(text: str) -> list[str]:
        """Single Chinese characters: a weak but forgiving signal for paraphrases that share
        characters but no bigram (連保人 / 連帶保證人, 作保 / 保證)."""
        return _CJK_CHAR.findall(fold(text))

    def query_chars(self, text: str) -> list[str]:
        return self.chars(_QUESTION_CUT.sub(" ", fold(text)))


def is_mostly_english(text: str) -> bool:
    """Language of a question, for choosing fusion weights."""
    letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    cjk = sum(1 for ch in text if re.match(rf"[{_CJK}]", ch))
    return letters > 2 * cjk
