"""Figures a model may write where code computed them: only those code gave it; and never the
opposite of the duty code decided.

A small model restates a computed sum wrongly (the mid-rate equivalent beside the selling-rate
sum), or recalls a threshold from memory. Money amounts and rates in a clause are read the way
the request parser reads them (``assistant.extract``), so 30 萬美元 and USD 300,000 are one
figure; a clause holding one that neither the question nor the computed lines hold is dropped.

Asked 「客人身上帶5000美元出國，過海關要申報嗎？」, Qwen2.5-Coder-0.5B wrote 「過海關要申報。」
under code's 「出入境應向海關申報：否」 (2026-12-07). A clause that states a duty to declare
where code found none, or none where code found one, or either where it turns on a figure the
corpus lacks, is dropped the same way.
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


# A duty to declare stated either way. The negations are read first: 「不需要申報」 holds 「要申報」.
# 「要申報嗎」 repeats the question and states nothing.
_NO_DUTY = re.compile(
    r"(?:無須|毋須|無需|不須|不需要?|不用|免|不必)(?:向海關)?(?:辦理)?申報"
    r"|no need to declare|need not (?:be )?declared?"
    r"|(?:does|do|is|are) not (?:need|required|have) to (?:be )?declared?"
    r"|no (?:customs )?declaration (?:is )?(?:needed|required)",
    re.IGNORECASE,
)
_DUTY = re.compile(
    r"(?:要|應|須|需要?|必須|應該|應予)(?:向海關)?(?:辦理)?申報(?!嗎|與否)"
    r"|must (?:be )?declared?|(?:needs?|required|has|have) to (?:be )?declared?"
    r"|should (?:be )?declared?",
    re.IGNORECASE,
)


def states_duty(clause: str) -> bool | None:
    """Whether ``clause`` says something must be declared (True), need not be (False), or
    neither (None)."""
    if _NO_DUTY.search(clause):
        return False
    if _DUTY.search(clause):
        return True
    return None


def agrees_with(duty: str) -> Callable[[str], bool]:
    """A clause check against code's decision: ``duty`` "yes" (must declare), "no" (need not),
    or "open" (turns on a figure code does not have: either way is the model's guess)."""
    allowed = {"yes": (True, None), "no": (False, None), "open": (None,)}[duty]
    return lambda clause: states_duty(clause) in allowed
