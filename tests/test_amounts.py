"""Amounts as files write them (``textfiles.parse_amount``): never a wrong figure read
silently; what cannot be read is refused with why."""

from __future__ import annotations

import pytest

from assistant.textfiles import NotPositive, parse_amount


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,000", 1000.0),
        ("1,234,567.89", 1234567.89),
        ("12,3456,7890", 1234567890.0),  # grouped by 萬
        ("NT$50,000元", 50000.0),
        ("１，０００", 1000.0),
        ("1 000", 1000.0),
        ("1.234.567", 1234567.0),  # European thousands
        ("1.000,50", 1000.5),  # and its decimal comma
        ("1,50", 1.5),  # a decimal comma, not 150
        ("0.5", 0.5),
        ("'1,000", 1000.0),  # a spreadsheet's text mark
        ('="1000"', 1000.0),
        ("5萬", 50000.0),  # hand-kept lists write units
        ("1.5萬元", 15000.0),
        ("NT$3萬5千", 35000.0),
        ("三萬五", 35000.0),  # spoken shorthand
        ("2億", 200000000.0),
        ("１２萬", 120000.0),
    ],
)
def test_amounts_as_files_write_them(text: str, value: float) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize(
    "text", ["1,50,0", "1,000,00", "1.2.3", "US$100", "abc", "萬一", "5萬萬x", "一些"]
)
def test_unclear_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_amount(text)
    assert not isinstance(info.value, NotPositive)


@pytest.mark.parametrize("text", ["0", "-1,000", "(0)"])
def test_zero_and_negative_are_not_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)
