"""What a question asks for, before any index is touched: its language, the laws and articles
it names, and the statutory words its everyday wording stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.analyzer import Analyzer, fold, is_mostly_english
from knowledge.articles import article_refs_at
from knowledge.lexicon import LAW_ALIASES, TERM_EXPANSIONS

_DIGITS = "零一二三四五六七八九"

# A law named in a question: a name ending the way Taiwanese statutes and regulations end,
# after a word that introduces one (依、根據、違反 …) or inside 《》「」. The name is taken as short
# as it can be, so 依醫療法至少 names 醫療法.
_ZH_LAW = re.compile(
    r"(?:《([^》]{2,30})》|「([^」]{2,30}(?:法|條例|通則|辦法|規則|細則|準則))」"
    r"|(?:依照|依據|根據|按照|違反|適用|依)"
    r"([\u4e00-\u9fff]{2,24}?(?:法|條例|通則|辦法|規則|細則|準則)))"
)
# A second name joined to one just found: 違反建築法與醫療法.
_ZH_MORE = re.compile(
    r"(?:與|及|和|、|或)([\u4e00-\u9fff]{2,24}?(?:法|條例|通則|辦法|規則|細則|準則))"
)
# Words of a phrase about rules in general (依相關辦法, 依主管機關規則, 依其他市場之規則), not
# of a law's name: at its start, or anywhere for the first two.
_GENERIC_ANYWHERE = ("相關", "其他")
_GENERIC = ("主管機關", "本行", "本公司", "該", "有關", "上開", "前開", "前述", "上述", "各")
_EN_LAW = re.compile(
    r"\b((?:[A-Z][\w.&-]*\s+){0,7}[A-Z][\w.&-]*\s+(?:Act|Code|Ordinance|Directive|Regulations?))\b"
)
_EN_KIND = frozenset(
    "act code ordinance directive regulation regulations governing rules the of and for on in "
    "to taiwan taiwan's us u.s. eu uk".split()
)


def _words(name: str) -> frozenset[str]:
    """The words that tell one English law's name from another's (not Act, Governing, of)."""
    return frozenset(w for w in re.findall(r"[\w'.&-]+", name.lower()) if w not in _EN_KIND)


def _abbreviates(short: str, name: str) -> bool:
    """``short`` is ``name`` shortened the usual way: its characters in order, the same end."""
    if short[-1] != name[-1] or len(short) >= len(name):
        return False
    rest = iter(name)
    return all(ch in rest for ch in short)


_EN_OPENERS = (
    "The ",
    "Under ",
    "Taiwan's ",
    "Taiwan ",
    "US ",
    "U.S. ",
    "EU ",
    "UK ",
    "Does ",
    "What ",
)


def int_to_cn(n: int) -> str:
    """0–99,999,999 in statutory numerals: 5 → 五, 50 → 五十, 105 → 一百零五, 30000 → 三萬."""
    if n < 0 or n >= 10**8:
        return str(n)
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        rest = "" if low == 0 else ("零" if low < 1000 else "") + int_to_cn(low)
        return int_to_cn(high) + "萬" + rest
    if n == 0:
        return "零"
    out, zero = "", False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit)
        if d:
            if zero:
                out += "零"
            out += ("" if (name == "十" and d == 1 and not out) else _DIGITS[d]) + name
            zero = False
        elif out:
            zero = True
    return out


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(%|％|萬|億|天|日|年|個月|歲)?")


def numeral_expansions(text: str) -> list[str]:
    """Statutes spell numbers in Chinese; staff type digits. 5% → 百分之五, 10天 → 十日."""
    out: list[str] = []
    text = re.sub(r"(?<=\d),(?=\d{3})", "", fold(text))  # 600,000 is one number
    for m in _NUMBER.finditer(text):
        num, unit = m.group(1), m.group(2) or ""
        if "." in num:
            continue
        cn = int_to_cn(int(num))
        if unit in ("%", "％"):
            out.append(f"百分之{cn}")
        elif unit in ("天", "日"):
            out.append(f"{cn}日")
        elif unit:
            out.append(cn + unit)
        else:
            out.append(cn)
    return out


# 「何謂警示帳戶」「保證契約的定義是什麼」: statutes define a term as 「本法所稱X，指…」 or
# 「稱X者，謂…」, so the term glued to 稱 is what finds the defining article.
_DEFINITION = re.compile(
    r"(?:何謂|什麼是|甚麼是|什麼叫|什麼叫做)\s*([\u4e00-\u9fff]{2,12})"
    r"|([\u4e00-\u9fff]{2,12}?)\s*(?:的定義|之定義|的意思|是指什麼|指的是什麼|指什麼|是什麼)"
)


def definition_expansions(text: str) -> list[str]:
    out: list[str] = []
    for m in _DEFINITION.finditer(fold(text)):
        term = re.sub(r"^(?:所謂|所稱|法律上的|法律上)", "", m.group(1) or m.group(2))
        if len(term) >= 2:
            out += [f"所稱{term}", f"稱{term}"]
            # The Civil Code defines the contract by its core noun: 「稱保證者，謂…」.
            core = re.sub(r"(?:契約|行為|制度)$", "", term)
            if core != term and len(core) >= 2:
                out += [f"稱{core}者"]
    return out


@dataclass
class AnalysedQuery:
    text: str
    english: bool
    laws: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)
    expansions: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    chars: list[str] = field(default_factory=list)
    # The same without the named laws' own names, for searching inside those laws.
    inner_tokens: list[str] = field(default_factory=list)
    inner_chars: list[str] = field(default_factory=list)
    # Laws the question names that the corpus does not hold (勞動基準法 in a banking corpus).
    unknown_laws: list[str] = field(default_factory=list)
    # Each article with the law named last before it (None: no law before it), so
    # 「洗錢防制法第5條及銀行法第33條」 asks for two articles, not every pairing of the two.
    pairs: list[tuple[str | None, str]] = field(default_factory=list)


def _first_mentions(
    mentions: list[tuple[str, tuple[int, int]]],
) -> list[tuple[str, tuple[int, int]]]:
    """Each named law once, at its first mention."""
    found: list[tuple[str, tuple[int, int]]] = []
    for law, span in mentions:
        if all(law != seen for seen, _ in found):
            found.append((law, span))
    return found


class QueryAnalyser:
    """Knows the law names in the corpus (Chinese and English) and the everyday lexicon."""

    def __init__(self, analyzer: Analyzer, law_names: dict[str, str]) -> None:
        """law_names maps every known name (Chinese, English, abbreviation) to the Chinese name."""
        self._analyzer = analyzer
        names = {fold(k): v for k, v in law_names.items()}
        for alias, full in LAW_ALIASES.items():
            if full in law_names.values():
                names.setdefault(fold(alias), full)
        self._names = names
        # Longest names first, so 金融機構防制洗錢辦法 wins over a shorter name inside it.
        self._by_length = sorted(names, key=len, reverse=True)
        self._english_words = [w for n in names if n.isascii() and (w := _words(n))]
        self._chinese_pairs = [
            {n[i : i + 2] for i in range(len(n) - 1)} for n in names if not n.isascii()
        ]

    def laws_named(self, text: str) -> list[str]:
        return [law for law, _ in _first_mentions(self._mentions(text))]

    def _known(self, name: str) -> bool:
        """A name the corpus holds, a part of one, or a variant close to one: most of its words
        (English) or character pairs (Chinese) within one known name. People write the Foreign
        Exchange Control Act for the Foreign Exchange Regulation Act; a name sharing only its
        kind (Act, 法) with every known one is a law the corpus lacks."""
        if name.isascii():
            words = _words(name)
            return not words or any(
                len(words & known) / len(words) > 0.5 for known in self._english_words
            )
        key = fold(name)
        if any(key == n or (len(key) >= 4 and key in n) for n in self._names):
            return True
        if len(key) <= 5 and any(_abbreviates(key, n) for n in self._names if not n.isascii()):
            return True  # 期交法 for 期貨交易法
        pairs = {key[i : i + 2] for i in range(len(key) - 1)}
        return any(len(pairs & known) / len(pairs) >= 0.75 for known in self._chinese_pairs)

    def unknown_laws(self, text: str, spans: list[tuple[str, tuple[int, int]]]) -> list[str]:
        """Law names in ``text`` outside the known ones' spans that the corpus does not hold."""
        folded = fold(text)
        taken = [span for _, span in spans]
        out: list[str] = []
        found: list[tuple[str, int, int]] = []
        for m in _ZH_LAW.finditer(folded):
            group = next(g for g in (1, 2, 3) if m.group(g))
            found.append((m.group(group), m.start(group), m.end(group)))
            end = m.end()
            while more := _ZH_MORE.match(folded, end):
                found.append((more.group(1), more.start(1), more.end(1)))
                end = more.end()
        for m in _EN_LAW.finditer(folded):
            name = m.group(1)
            for opener in _EN_OPENERS:
                name = name.removeprefix(opener)
            found.append((name, m.end(1) - len(name), m.end(1)))
        for name, start, end in found:
            generic = name.startswith(_GENERIC) or any(g in name for g in _GENERIC_ANYWHERE)
            if generic or any(start < e and s < end for s, e in taken):
                continue
            if not self._known(name) and name not in out:
                out.append(name)
        return out

    def _mentions(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """Every mention of a known law in ``fold(text)``, in order."""
        folded = fold(text)
        lower = folded.lower()
        found: list[tuple[str, tuple[int, int]]] = []
        taken: list[tuple[int, int]] = []
        for name in self._by_length:
            hay = lower if name.isascii() else folded
            needle = name.lower() if name.isascii() else name
            start = hay.find(needle)
            while start != -1:
                end = start + len(needle)
                if all(end <= s or start >= e for s, e in taken):
                    taken.append((start, end))
                    found.append((self._names[name], (start, end)))
                start = hay.find(needle, end)
        return sorted(found, key=lambda f: f[1])

    def analyse(self, text: str) -> AnalysedQuery:
        folded = fold(text)
        expansions: list[str] = []
        for word, extra in TERM_EXPANSIONS.items():
            if fold(word) in folded:
                expansions.extend(e for e in extra if e not in folded)
        english = is_mostly_english(text)
        if not english:  # Chinese numerals only help a Chinese question
            expansions.extend(numeral_expansions(text))
            expansions.extend(definition_expansions(text))
        mentions = self._mentions(text)
        spans = _first_mentions(mentions)
        refs = article_refs_at(folded, [end for _, (_, end) in mentions])
        pairs = [
            (next((law for law, (start, _) in reversed(mentions) if start < at), None), article)
            for at, article in refs
        ]
        inner = folded
        for _, (start, end) in sorted(spans, key=lambda f: -f[1][0]):
            inner = inner[:start] + " " + inner[end:]
        return AnalysedQuery(
            text=text,
            english=english,
            laws=[law for law, _ in spans],
            articles=list(dict.fromkeys(a for _, a in refs)),
            expansions=expansions,
            tokens=self._analyzer.query_tokens(" ".join([text, *expansions])),
            chars=self._analyzer.query_chars(" ".join([text, *expansions])),
            inner_tokens=self._analyzer.query_tokens(" ".join([inner, *expansions])),
            inner_chars=self._analyzer.query_chars(" ".join([inner, *expansions])),
            unknown_laws=self.unknown_laws(text, spans),
            pairs=pairs,
        )
