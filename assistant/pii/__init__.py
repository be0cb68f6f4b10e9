"""Personal data in Taiwanese banking text: find it, mask it, or swap it for keyed tokens.

    detect("客戶A123456789申請")            → [Span("national_id", 2, 12, "A123456789", …)]
    mask("帳號0123456789012轉出")           → "帳號*********9012轉出"
    p = Pseudonymizer(key); p.unmask(model(p.pseudonymise(text)))

The rules for ambiguous digits are in ``assistant.pii.scan``; logs and spans are covered by
``PIIMaskingFilter`` and ``MaskingSpanExporter``.
"""

from assistant.pii.checks import check_digit, luhn_ok, national_id_ok, resident_id_ok
from assistant.pii.logs import PIIMaskingFilter, install_log_masking
from assistant.pii.masking import LABELS, MaskStyle, Pseudonymizer, mask, pseudonymise, unmask
from assistant.pii.otel import MaskingSpanExporter, mask_attributes
from assistant.pii.scan import KINDS, Kind, Span, detect, normalise

__all__ = [
    "KINDS",
    "LABELS",
    "Kind",
    "MaskStyle",
    "MaskingSpanExporter",
    "PIIMaskingFilter",
    "Pseudonymizer",
    "Span",
    "check_digit",
    "detect",
    "install_log_masking",
    "luhn_ok",
    "mask",
    "mask_attributes",
    "national_id_ok",
    "normalise",
    "pseudonymise",
    "resident_id_ok",
    "unmask",
]
