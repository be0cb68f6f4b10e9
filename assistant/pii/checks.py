"""Check digits: Taiwanese national ID, resident certificate (old and 2021 formats), Luhn.

All three identity formats share one weighted sum: the first letter becomes two digits through
the household-registration table below (A=10 … Z=33, with I, O, W, X, Y, Z out of order because
they were added later), then the ten digits are weighted 1,9,8,7,6,5,4,3,2,1 and the check digit
makes the total a multiple of ten.

- 身分證字號: letter + 1/2 (sex) + 7 digits + check.
- 居留證 (統一證號), 2021 format: letter + 8/9 (sex) + 7 digits + check; the same sum.
- 居留證, old format: letter + A/B/C/D + 7 digits + check; the second letter counts as the last
  digit of its own table value (A→0, B→1, C→2, D→3) in the place of the sex digit.
"""

from __future__ import annotations

LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"  # in table order: A=10, B=11, …, I=34, O=35
LETTER_VALUE = {c: i + 10 for i, c in enumerate(LETTERS)}
WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


def _weighted_ok(letter: str, digits: str) -> bool:
    """``digits`` is the nine places after the letter, as digit characters."""
    value = LETTER_VALUE.get(letter)
    if value is None or len(digits) != 9 or not digits.isdigit():
        return False
    places = [value // 10, value % 10, *map(int, digits)]
    return sum(w * d for w, d in zip(WEIGHTS, places, strict=True)) % 10 == 0


def check_digit(letter: str, first_nine: str) -> str:
    """The check digit that completes ``letter`` + eight digits (old format: second letter
    included, e.g. ``("A", "B1234567")``). For building test data and fixtures."""
    if first_nine[:1].isalpha():
        first_nine = str(LETTER_VALUE[first_nine[0]] % 10) + first_nine[1:]
    for d in "0123456789":
        if _weighted_ok(letter, first_nine + d):
            return d
    raise ValueError(f"not an identity number prefix: {letter}{first_nine}")


def national_id_ok(value: str) -> bool:
    """身分證字號: ``A123456789``."""
    return len(value) == 10 and value[1] in "12" and _weighted_ok(value[0], value[1:])


def resident_id_ok(value: str) -> bool:
    """居留證, the 2021 format (``A800000014``) or the old one (``AB12345678``)."""
    if len(value) != 10:
        return False
    if value[1] in "89":
        return _weighted_ok(value[0], value[1:])
    if value[1] in "ABCD":
        return _weighted_ok(value[0], str(LETTER_VALUE[value[1]] % 10) + value[2:])
    return False


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_prefix_ok(digits: str) -> bool:
    """Issuer prefixes of the card networks used in Taiwan, with their lengths: Visa 4, Mastercard
    51–55 and 2221–2720, JCB 35, American Express 34/37, UnionPay 62, Discover 6011/64/65, Diners
    30/36/38. A Luhn-valid run with another prefix is more likely an account or a reference."""
    n = len(digits)
    if digits[0] == "4":
        return n in (13, 16, 19)
    two, four = int(digits[:2]), int(digits[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if two == 35 or two == 62:
        return 16 <= n <= 19
    if four == 6011 or two in (64, 65):
        return 16 <= n <= 19
    if two in (30, 36, 38):
        return 14 <= n <= 19
    return False
