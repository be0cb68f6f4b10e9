"""Personal-data detection and masking: Taiwanese IDs, resident certificates, phones, accounts,
cards and e-mail in Chinese text, full-width included; the logging filter and span exporter.

Valid identity numbers are computed here with an independent implementation of the published
check-digit rule, not copied from the module under test."""

from __future__ import annotations

import logging
import random
import re

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from assistant.pii import (
    MaskingSpanExporter,
    PIIMaskingFilter,
    Pseudonymizer,
    detect,
    mask,
    pseudonymise,
    unmask,
)
from assistant.pii.checks import luhn_ok, national_id_ok, resident_id_ok

# The household-registration letter codes, written out as published (A=10 … Z=33).
CODES = dict(
    A=10, B=11, C=12, D=13, E=14, F=15, G=16, H=17, I=34, J=18, K=19, L=20, M=21,
    N=22, O=35, P=23, Q=24, R=25, S=26, T=27, U=28, V=29, W=32, X=30, Y=31, Z=33,
)  # fmt: skip


def complete_id(letter: str, second: str, seven: str) -> str:
    """Letter + second place (1/2/8/9, or A–D for the old resident format) + 7 digits + check."""
    code = CODES[letter]
    second_digit = CODES[second] % 10 if second.isalpha() else int(second)
    places = [code // 10, code % 10, second_digit, *map(int, seven)]
    total = sum(w * d for w, d in zip((1, 9, 8, 7, 6, 5, 4, 3, 2, 1), places, strict=True))
    return f"{letter}{second}{seven}{(10 - total % 10) % 10}"


def with_luhn(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def wide(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in detect(text)]


RNG = random.Random(7)
NATIONAL = [
    complete_id(RNG.choice(list(CODES)), RNG.choice("12"), f"{RNG.randrange(10**7):07d}")
    for _ in range(40)
]
RESIDENT_NEW = [
    complete_id(RNG.choice(list(CODES)), RNG.choice("89"), f"{RNG.randrange(10**7):07d}")
    for _ in range(20)
]
RESIDENT_OLD = [
    complete_id(RNG.choice(list(CODES)), RNG.choice("ABCD"), f"{RNG.randrange(10**7):07d}")
    for _ in range(20)
]


# --- check digits -------------------------------------------------------------------------------


def test_published_examples() -> None:
    assert national_id_ok("A123456789")
    assert resident_id_ok("A800000014") and resident_id_ok("A900000007")  # 2021 format
    for old in ("AA00000009", "AB00000001", "AC00000003", "AD00000005"):
        assert resident_id_ok(old)
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


@pytest.mark.parametrize("value", NATIONAL)
def test_generated_national_ids_are_detected_in_chinese_text(value: str) -> None:
    assert kinds(f"客戶{value}申請信用卡") == [("national_id", value)]


@pytest.mark.parametrize("value", RESIDENT_NEW + RESIDENT_OLD)
def test_generated_resident_certificates_are_detected(value: str) -> None:
    assert kinds(f"外籍客戶居留證{value}開戶") == [("resident_id", value)]


def test_every_wrong_check_digit_is_rejected() -> None:
    for value in NATIONAL[:10] + RESIDENT_NEW[:5] + RESIDENT_OLD[:5]:
        for d in "0123456789":
            if d != value[-1]:
                assert detect(f"客戶{value[:-1]}{d}申請") == []


def test_id_shapes_that_are_not_ids() -> None:
    value = NATIONAL[0]
    assert detect(f"型號X{value}") == []  # a letter in front: part of a longer code
    assert detect(f"{value}5") == []  # eleven characters
    assert detect(f"{value[0]}3{value[2:]}") == []  # the second place is 1, 2, 8, 9 or A–D


def test_full_width_id_is_detected_and_masked_in_full_width() -> None:
    value = NATIONAL[1]
    text = f"身分證字號：{wide(value)}，請核對。"
    (span,) = detect(text)
    assert span.kind == "national_id" and span.value == value and span.text == wide(value)
    masked = mask(text)
    assert masked == f"身分證字號：{wide(value[:3])}＊＊＊＊{wide(value[-3:])}，請核對。"


def test_lower_case_and_separated_ids() -> None:
    value = NATIONAL[2]
    assert kinds(f"id {value.lower()} ok") == [("national_id", value.lower())]
    spaced = f"{value[0]} {value[1:4]} {value[4:7]} {value[7:]}"
    assert kinds(f"客戶{spaced}申請") == [("national_id", spaced)]


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "0912345678",
        "0912-345-678",
        "0912 345 678",
        "0912.345.678",
        "0912-345678",
        "+886 912 345 678",
        "+886-912-345-678",
        "+886912345678",
        "00886-912-345-678",
        "+886(0)912345678",
    ],
)
def test_mobile_numbers(written: str) -> None:
    (span,) = detect(f"請撥{written}聯絡王先生")
    assert (span.kind, span.text, span.value) == ("mobile", written, "0912345678")


@pytest.mark.parametrize(
    ("written", "national"),
    [
        ("02-2345-6789", "0223456789"),
        ("(02)2345-6789", "0223456789"),
        ("(02) 2345 6789", "0223456789"),
        ("+886-2-2345-6789", "0223456789"),
        ("+886 2 2345 6789", "0223456789"),
        ("04-2234-5678", "0422345678"),
        ("04-723-4567", "047234567"),
        ("07-345-6789", "073456789"),
        ("037-345678", "037345678"),
        ("049-2345678", "0492345678"),
        ("089-345678", "089345678"),
        ("0836-22345", "083622345"),
        ("02-2345-6789#123", "0223456789"),
        ("02-2345-6789分機88", "0223456789"),
    ],
)
def test_landline_numbers(written: str, national: str) -> None:
    (span,) = detect(f"總行{written}轉客服")
    assert (span.kind, span.text, span.value) == ("landline", written, national)


def test_bare_landline_digits_need_a_telephone_word() -> None:
    assert detect("代碼0223456789") == []
    assert kinds("電話0223456789") == [("landline", "0223456789")]
    assert kinds("Tel: 0223456789") == [("landline", "0223456789")]


def test_impossible_landlines() -> None:
    assert detect("電話02-345-678") == []  # Taipei numbers have eight digits
    assert detect("電話05-2345-67890") == []  # too long for Chiayi
    assert detect("電話02-0123-4567") == []  # a subscriber number does not start with 0


def test_phone_like_order_and_reference_numbers() -> None:
    assert detect("訂單編號0912345678已出貨") == []
    assert detect("Order No. 0912345678 shipped") == []
    assert detect("發票號碼 02-2345-6789") == []
    assert detect("案號：0912-345-678") == []


# --- accounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "written", "value"),
    [
        ("帳號0123456789012轉出", "0123456789012", "0123456789012"),
        ("匯款至帳戶 0123-456-789012", "0123-456-789012", "0123456789012"),
        ("存款帳號：1234 5678 9012 34", "1234 5678 9012 34", "12345678901234"),
        ("轉入(822)0123456789012", "(822)0123456789012", "822-0123456789012"),
        ("(822)0123456789012", "(822)0123456789012", "822-0123456789012"),
        ("郵局帳號 700-00012345678901", "700-00012345678901", "700-00012345678901"),
        ("Account No. 001-234-567890", "001-234-567890", "001234567890"),
        ("請匯入國泰世華銀行 0123456789 謝謝", "0123456789", "0123456789"),
        ("0123456789012轉出", "0123456789012", "0123456789012"),
    ],
)
def test_accounts_with_context(text: str, written: str, value: str) -> None:
    (span,) = detect(text)
    assert (span.kind, span.text, span.value) == ("bank_account", written, value)


def test_digits_without_context_are_not_accounts() -> None:
    assert detect("系統代碼 0123456789012 已更新") == []
    assert detect("資料筆數 1234567890") == []


@pytest.mark.parametrize(
    "text",
    [
        "帳戶餘額1,234,567,890 元",
        "帳戶轉出 1234567890 元",
        "帳號轉出新臺幣 1234567890",
        "帳戶匯入 $1234567890",
        "帳戶轉出 NT$ 12345678901",
        "帳戶於 2024-01-15 轉出",
        "帳號轉出 2024-01-15 10:30",
        "帳號 113-01-15 開立",
        "民國113年1月15日帳號開立",
        "依銀行法第12條、第33條之3辦理",
        "金管銀法字第1090123456號函，銀行應辦理",
        "帳戶共 12345678901 股",
        "帳號 20240115",
    ],
)
def test_amounts_dates_years_and_articles_are_not_masked(text: str) -> None:
    assert detect(text) == []
    assert mask(text) == text


# --- cards --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "length"),
    [("4", 16), ("4", 13), ("51", 16), ("2221", 16), ("35", 16), ("37", 15), ("62", 19)],
)
def test_cards_valid_by_luhn(prefix: str, length: int) -> None:
    number = with_luhn(prefix, length, RNG)
    grouped = "-".join(number[i : i + 4] for i in range(0, length, 4))
    for written in (number, grouped, grouped.replace("-", " ")):
        assert kinds(f"信用卡{written}已停用") == [("credit_card", written)]
    assert kinds(f"客戶刷{number}消費") == [("credit_card", number)]  # no context needed


def test_card_shapes_that_are_not_cards() -> None:
    bad = "4111111111111112"
    assert detect(f"卡號{bad}") == []  # fails Luhn
    assert detect("序號 1234567812345670") == []  # Luhn-valid, but no card prefix
    assert detect("訂單 4111111111111111") == []  # an order number word decides


def test_account_word_makes_a_luhn_valid_run_an_account() -> None:
    assert kinds("帳號4111111111111111") == [("bank_account", "4111111111111111")]


# --- e-mail, mixed text, overlaps ----------------------------------------------------------------


def test_email_next_to_chinese_and_full_width() -> None:
    assert kinds("請寄到wang.xm+loan@bank.com.tw謝謝") == [("email", "wang.xm+loan@bank.com.tw")]
    (span,) = detect("信箱：" + wide("ab@x.com") + "。")
    assert span.kind == "email" and span.value == "ab@x.com"


def test_email_wins_over_the_id_inside_it() -> None:
    value = NATIONAL[3]
    assert kinds(f"{value}@mail.example.com") == [("email", f"{value}@mail.example.com")]


def test_mixed_paragraph_all_kinds_in_order() -> None:
    nid, arc = NATIONAL[4], RESIDENT_OLD[0]
    card = with_luhn("4", 16, RNG)
    text = (
        f"客戶王小明（身分證{nid}），配偶居留證{arc}，手機0912-345-678，"
        f"公司電話(02)2345-6789，帳號0123456789012轉出 50,000 元至卡號{card}，"
        f"信箱ming@example.com。民國113年1月15日，依銀行法第12條辦理。"
    )
    got = [s.kind for s in detect(text)]
    assert got == [
        "national_id",
        "resident_id",
        "mobile",
        "landline",
        "bank_account",
        "credit_card",
        "email",
    ]


# --- masking ------------------------------------------------------------------------------------


def test_partial_masks_like_a_bank_statement() -> None:
    card = with_luhn("4", 16, RNG)
    grouped = "-".join(card[i : i + 4] for i in range(0, 16, 4))
    assert mask("身分證A123456789") == "身分證A12****789"
    assert mask("手機0912-345-678") == "手機0912-***-678"
    assert mask("+886 912 345 678") == "+886 912 *** 678"
    assert mask("電話(02)2345-6789") == "電話(02)****-*789"
    assert mask("帳號0123456789012轉出") == "帳號*********9012轉出"
    assert mask("轉入(822)0123456789012") == "轉入(822)*********9012"
    assert mask(f"卡號{grouped}") == f"卡號****-****-****-{card[-4:]}"
    assert mask(f"卡號{grouped}", keep=2) == f"卡號****-****-****-**{card[-2:]}"
    assert mask("寄到ming@example.com") == "寄到m***@example.com"


def test_label_style_and_kind_selection() -> None:
    text = "客戶A123456789，手機0912345678"
    assert mask(text, style="label") == "客戶[身分證]，手機[手機]"
    assert mask(text, kinds={"mobile"}) == "客戶A123456789，手機0912***678"


def test_masking_leaves_every_other_character_as_written() -> None:
    text = "　客戶Ａ１２３４５６７８９（ＶＩＰ），帳號０１２３４５６７８９０１２轉出！\n\t第二行 ok"
    masked = mask(text)
    spans = detect(text)
    assert len(masked) == len(text) and len(spans) == 2
    inside = {i for s in spans for i in range(s.start, s.end)}
    assert all(masked[i] == text[i] for i in range(len(text)) if i not in inside)
    assert masked.count("＊") == 4 + 9


def test_token_style_is_keyed_and_stable() -> None:
    a = mask("客戶A123456789", style="token", key=b"k1")
    assert a == mask("客戶Ａ１２３４５６７８９", style="token", key=b"k1")  # same value
    assert a != mask("客戶A123456789", style="token", key=b"k2")
    assert a.startswith("客戶[身分證#") and "A123456789" not in a
    with pytest.raises(ValueError):
        mask("A123456789", style="token")


def test_text_without_personal_data_is_returned_unchanged() -> None:
    text = "請問利害關係人無擔保授信的限制？依銀行法第32條、第33條規定。"
    assert mask(text) is text


# --- pseudonyms for a remote model ---------------------------------------------------------------


def test_pseudonymise_and_unmask_round_trip() -> None:
    nid = NATIONAL[5]
    text = f"客戶{nid}的帳號0123456789012轉出，手機0912-345-678；再查{nid}的交易。"
    p = Pseudonymizer(b"secret")
    sent = p.pseudonymise(text)
    assert nid not in sent and "0123456789012" not in sent and "0912" not in sent
    ids = re.findall(r"\[身分證#[0-9a-f]{8}\]", sent)
    assert len(ids) == 2 and ids[0] == ids[1]  # one person, one token
    assert p.unmask(sent) == text
    # The model rewrites around the tokens; the answer maps back.
    tok = next(iter(p.vault))
    answer = f"已查詢 {tok}：近三月無異常。"
    assert p.unmask(answer) == f"已查詢 {p.vault[tok]}：近三月無異常。"
    assert p.unmask("[身分證#00000000] 不是我們發的") == "[身分證#00000000] 不是我們發的"


def test_one_shot_pseudonymise_and_unmask() -> None:
    text = "客戶A123456789，信箱ming@example.com"
    sent, vault = pseudonymise(text, b"k")
    assert len(vault) == 2 and unmask(sent, vault) == text
    assert unmask(sent, {}) == sent


# --- logging ------------------------------------------------------------------------------------


def test_logging_filter_masks_message_args_and_traceback() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(PIIMaskingFilter())
    log = logging.getLogger("test_pii.child")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("客戶%s 帳號%s", "A123456789", "0123456789012")
        log.warning("轉帳 %d 元至帳號0123456789012", 1234567890)
        try:
            raise ValueError("查無身分證A123456789")
        except ValueError:
            log.exception("失敗：手機0912345678")
    finally:
        log.removeHandler(handler)
    assert records[0] == "客戶A12****789 帳號*********9012"
    assert records[1] == "轉帳 1234567890 元至帳號*********9012"
    assert records[2].startswith("失敗：手機0912***678\nTraceback")
    assert "A123456789" not in records[2] and "A12****789" in records[2]


def test_logging_filter_token_style_and_bad_format() -> None:
    f = PIIMaskingFilter(style="token", key=b"k")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", ("A123456789",), None)
    assert f.filter(record) and record.args is None and record.msg.startswith("id [身分證#")
    bad = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("A123456789",), None)
    assert f.filter(bad)  # left for logging to report as a formatting error


# --- OpenTelemetry ------------------------------------------------------------------------------


def test_span_exporter_masks_string_attributes_before_export() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(MaskingSpanExporter(memory)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("llm.complete") as span:
        span.set_attribute("llm.prompt", "客戶A123456789帳號0123456789012轉出")
        span.set_attribute("llm.tokens_in", 12)
        span.set_attribute("tool.args", ["0912345678", "ok"])
        span.add_event("retry", {"reason": "手機0912345678逾時"})
    with tracer.start_as_current_span("clean") as span:
        span.set_attribute("graph.node", "guard")
    provider.shutdown()
    dirty, clean = memory.get_finished_spans()
    assert dirty.attributes["llm.prompt"] == "客戶A12****789帳號*********9012轉出"
    assert dirty.attributes["llm.tokens_in"] == 12
    assert tuple(dirty.attributes["tool.args"]) == ("0912***678", "ok")
    assert dirty.events[0].attributes["reason"] == "手機0912***678逾時"
    assert dirty.context.span_id != clean.context.span_id and dirty.name == "llm.complete"
    assert clean.attributes["graph.node"] == "guard"


def test_span_exporter_works_with_the_assistant_telemetry() -> None:
    from assistant.settings import TelemetrySettings
    from assistant.telemetry import make_telemetry

    memory = InMemorySpanExporter()
    t = make_telemetry(TelemetrySettings(record_content=True), MaskingSpanExporter(memory))
    with t.span("llm.complete") as span:
        t.content(span, "llm.prompt", "請查卡號4111-1111-1111-1111的交易")
    t.shutdown()
    (span,) = memory.get_finished_spans()
    assert span.attributes["llm.prompt"] == "請查卡號****-****-****-1111的交易"
