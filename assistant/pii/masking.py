"""Masking and keyed pseudonyms for the spans that ``detect`` finds.

Three styles, one per need:

- ``partial`` (default): what bank statements print — ``A12****789``, ``0912-***-678``,
  ``****-****-****-1234``, ``a***@example.com``. Separators and full-width stay as written; a
  masked full-width character becomes ``＊`` so that column widths do not move.
- ``label``: ``[身分證]``, ``[帳號]`` … when not even the shape should leak.
- ``token``: ``[身分證#3f9a2c1b]``, a keyed HMAC of the normalised value, so the same person gets
  the same token under one key (useful in logs: correlate without revealing).

``Pseudonymizer`` uses the token style for text sent to a remote model and keeps the originals,
so that the model's answer can be mapped back with ``unmask``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection
from typing import Literal

from assistant.pii.scan import Kind, Span, area_code, detect

MaskStyle = Literal["partial", "label", "token"]

LABELS: dict[Kind, str] = {
    "national_id": "身分證",
    "resident_id": "居留證",
    "mobile": "手機",
    "landline": "電話",
    "bank_account": "帳號",
    "credit_card": "卡號",
    "email": "電子郵件",
}
TOKEN_HEX = 8  # 32 bits: a collision within one conversation is out of reach


def _hide(original: str, head: int, tail: int) -> str:
    """Replace the letters and digits of ``original`` except the first ``head`` and the last
    ``tail`` of them; everything else (separators, brackets, +) stays as written."""
    n = sum(1 for c in original if c.isalnum())
    tail = min(tail, n // 2)  # whatever the caller asks, at least half is hidden
    out, i = [], 0
    for c in original:
        if c.isalnum():
            hidden = head <= i < n - tail
            i += 1
            if hidden:
                out.append("＊" if "\uff01" <= c <= "\uff5e" else "*")
                continue
        out.append(c)
    return "".join(out)


def partial(span: Span, keep: int = 4) -> str:
    """The bank-statement style for one span; ``keep`` trailing digits of accounts and cards."""
    text = span.text
    if span.kind in ("national_id", "resident_id"):
        return _hide(text, 3, 3)
    if span.kind == "mobile":
        n = sum(1 for c in text if c.isalnum())
        return _hide(text, n - 6, 3)  # 0912***678, +886 912 *** 678
    if span.kind == "landline":
        n = sum(1 for c in text if c.isalnum())
        area = area_code(span.value) or span.value[:2]
        return _hide(text, n - len(span.value) + len(area), 3)  # (02)****-*789
    if span.kind == "bank_account":
        return _hide(text, 3 if "-" in span.value else 0, keep)  # the bank code is not personal
    if span.kind == "credit_card":
        return _hide(text, 0, keep)
    local, _, domain = text.partition("@") if "@" in text else text.partition("＠")
    return f"{local[:1]}***{text[len(local)]}{domain}"


def token(key: bytes, span: Span, labels: dict[Kind, str] = LABELS) -> str:
    """``[label#hex]``: a keyed HMAC-SHA256 of kind and normalised value."""
    digest = hmac.new(key, f"{span.kind}:{span.value}".encode(), hashlib.sha256).hexdigest()
    return f"[{labels[span.kind]}#{digest[:TOKEN_HEX]}]"


def replace(text: str, spans: list[Span], render: Callable[[Span], str]) -> str:
    """``text`` with each span replaced by ``render(span)``; the rest copied as is."""
    pieces, at = [], 0
    for span in spans:
        pieces += (text[at : span.start], render(span))
        at = span.end
    pieces.append(text[at:])
    return "".join(pieces)


def mask(
    text: str,
    *,
    style: MaskStyle = "partial",
    keep: int = 4,
    kinds: Collection[Kind] | None = None,
    key: bytes | None = None,
    labels: dict[Kind, str] = LABELS,
) -> str:
    """``text`` with its personal data masked in ``style``. ``keep``: trailing digits left on
    accounts and cards (partial style). ``kinds``: only these (default all). ``key``: the HMAC
    key, required by the token style."""
    spans = detect(text, None if kinds is None else frozenset(kinds))
    if not spans:
        return text
    if style == "partial":
        return replace(text, spans, lambda s: partial(s, keep))
    if style == "label":
        return replace(text, spans, lambda s: f"[{labels[s.kind]}]")
    if style == "token":
        if not key:
            raise ValueError("the token style needs a key")
        return replace(text, spans, lambda s: token(key, s, labels))
    raise ValueError(f"unknown mask style: {style!r}")


class Pseudonymizer:
    """Same value → same token under one key; remembers what each token stands for.

    One per conversation (or per request): ``pseudonymise`` the text sent to a remote model,
    ``unmask`` the answer. Values are compared normalised, so ``Ａ１２３４５６７８９`` and
    ``A123456789`` share a token; ``unmask`` writes back the form seen first.
    """

    def __init__(
        self,
        key: bytes,
        *,
        kinds: Collection[Kind] | None = None,
        labels: dict[Kind, str] = LABELS,
    ) -> None:
        if not key:
            raise ValueError("a pseudonymizer needs a non-empty key")
        self._key = key
        self._kinds = None if kinds is None else frozenset(kinds)
        self._labels = labels
        self.vault: dict[str, str] = {}  # token → original text
        names = "|".join(re.escape(v) for v in labels.values())
        self._token = re.compile(rf"\[(?:{names})#[0-9a-f]{{{TOKEN_HEX}}}\]")

    def _render(self, span: Span) -> str:
        tok = token(self._key, span, self._labels)
        self.vault.setdefault(tok, span.text)
        return tok

    def pseudonymise(self, text: str) -> str:
        return replace(text, detect(text, self._kinds), self._render)

    def unmask(self, text: str) -> str:
        """Tokens this pseudonymizer issued become the originals; any other text is left."""
        return self._token.sub(lambda m: self.vault.get(m.group(), m.group()), text)


def pseudonymise(
    text: str, key: bytes, kinds: Collection[Kind] | None = None
) -> tuple[str, dict[str, str]]:
    """One-shot form: the pseudonymised text and its vault (token → original)."""
    p = Pseudonymizer(key, kinds=kinds)
    return p.pseudonymise(text), p.vault


def unmask(text: str, vault: dict[str, str]) -> str:
    """Put the originals back for every token in ``vault``."""
    if not vault:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in sorted(vault, key=len, reverse=True)))
    return pattern.sub(lambda m: vault[m.group()], text)
