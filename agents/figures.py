"""Figures a model may write where code computed them: only those code gave it.

A small model restates a computed sum wrongly (the mid-rate equivalent beside the selling-rate
sum), or recalls a threshold from memory. Money amounts and rates in a clause are read the way
the request parser reads them (``assistant.extract``), so 30 萬美元 and USD 300,000 are one
figure; a clause holding one that neither the question nor the computed lines hold is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from assistant.extract import find_amounts

_RATE = re.compile(r"(?<![\d.])\d{1,4}\.\d{1,6}(?![\d.])")


def figures(text: str) -> set[Decimal]:
    """The money amounts and rates ``text`` states, as values (300000 and 3E+5 are one)."""
    values = [a.value for a in find_amounts(text)]
    values += [Decimal(m.group()) for m in _RATE.finditer(text)]
    return {v.normalize() for v in values}


def only_figures_from(given: str) -> Callable[[str], bool]:
    """A clause check: True when every figure in the clause is one of ``given``'s."""
    allowed = figures(given)
    return lambda clause: figures(clause) <= allowed
