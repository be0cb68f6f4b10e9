"""Bad inputs: each gets a clear error and changes nothing.

``run(workdir)`` builds a data dir with real parts (a slice of the law corpus ingested, a small
generated fraud ledger with a trained scorer, the Bank of Taiwan board rates), then plays each
bad input through the entry points users use: ``AssistantService.ask`` with attachments, the
fraud and FX services, and the ``assistant`` CLI (through click's CliRunner). For each case it
records the message the user sees and what changed.

A message is clear when it is Traditional Chinese first, then English (``中文 / English``),
carries no Python traceback and no raw exception class name, and uses no Simplified-only
characters.

What changed is the difference between two snapshots of the data dir:

* state: the row count of every table in the database and every file under the data dir
  (path, size, sha256 of files up to 4 MiB; the database files themselves are covered by the
  row counts). A bad input must leave the state as it was.
* record: the trail a turn leaves on purpose. ``audit_record`` / ``audit_chain`` (the audit
  trail: every turn, refused ones included, is audited), ``login_attempt`` (records attempts by
  design), ``conversation`` / ``chat_message`` and the LangGraph checkpoint tables (the user's
  own view of an audited turn), and ``uploads/`` (the report a turn was asked about, kept as the
  audited turn's evidence, named by its sha256). A refusal raised before the turn starts (a file
  refused at upload, a bad CLI or service argument) must leave the record as it was too; a
  turn that is answered with the error (the guard's refusal, an unknown account in chat, a PDF
  the credit agent cannot read) is recorded, and the eval checks the record is consistent: one
  audit record, one conversation turn with the same audit id.

No binary input is committed: every bad file is built in a temporary folder at run time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import struct
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from evals.support import law_subset

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
LAWS = ["銀行法", "管理外匯條例"]

# The record of a turn (see the module docstring): counted, reported, not a change of state.
RECORD_TABLES = frozenset(
    {
        "audit_record",  # the audit trail: every turn, refusals included
        "audit_chain",  # the audit trail's hash chain
        "login_attempt",  # records every attempt by design (lockout)
        "conversation",  # the user's own view of an audited turn
        "chat_message",
        "checkpoints",  # LangGraph's conversation state, written when a turn ends
        "writes",
        "checkpoint_blobs",
        "checkpoint_writes",
        "checkpoint_migrations",
    }
)
RECORD_DIRS = ("uploads",)  # a turn's report, kept as its evidence (uploads/<user>/<sha>.pdf)
DB_FILES = re.compile(r"\.(db|sqlite3?)(-wal|-shm|-journal)?$")
HASH_UP_TO = 4 * 1024 * 1024
# Inside a published Qdrant Edge version the engine keeps its own books when a reader opens it
# (its config and tracker journals); a write never touches a published version, it makes a new
# one and moves edge/current.json, which is compared. See knowledge/edge_store.py.
EDGE_VERSION = re.compile(r"^edge/v\d+/")

SIMPLIFIED_ONLY = set("这为们说时会过发对数错误无读档请输账户额图个长问题间类项")
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z0-9]*(Error|Exception|Warning)\b|\bTraceback\b|File \"")

CREDIT_Q = "請依這份財報草擬徵信報告，授信額度 5000萬，期間 12 個月"


# ---- snapshots --------------------------------------------------------------------------------


def snapshot(container: Any) -> dict[str, dict[str, Any]]:
    """Row counts of every table and the files under the data dir, split into state and record."""
    from sqlalchemy import inspect, text

    state: dict[str, Any] = {}
    record: dict[str, Any] = {}
    engine = container.engine
    with engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            n = conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            (record if name in RECORD_TABLES else state)[f"table:{name}"] = n
    root = container.settings.data_dir
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if DB_FILES.search(rel) or rel.endswith(".lock") or EDGE_VERSION.match(rel):
            continue
        size = path.stat().st_size
        digest = _sha(path) if size <= HASH_UP_TO else ""
        target = record if rel.split("/", 1)[0] in RECORD_DIRS else state
        target[f"file:{rel}"] = f"{size}:{digest}"
    return {"state": state, "record": record}


def _sha(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:16]


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            out.append(f"{key}: {before.get(key)} → {after.get(key)}")
    return out


# ---- clear messages ---------------------------------------------------------------------------


def clarity(message: str) -> list[str]:
    """What is wrong with a message shown to a user (empty: it is clear)."""
    problems = []
    if not message.strip():
        return ["no message"]
    if CLASS_NAME.search(message):
        problems.append(f"raw exception or traceback: {CLASS_NAME.search(message).group(0)}")
    zh, sep, en = message.partition("/ ")
    first_cjk = re.search(r"[\u4e00-\u9fff]", message)
    if not first_cjk or not re.search(r"[\u4e00-\u9fff]", zh):
        problems.append("no Chinese before the English")
    if not sep or not re.search(r"[A-Za-z]{3,}", en):
        problems.append("no English after the Chinese")
    simplified = sorted(SIMPLIFIED_ONLY & set(message))
    if simplified:
        problems.append(f"Simplified characters: {''.join(simplified)}")
    return problems


# ---- bad files --------------------------------------------------------------------------------


@dataclass
class Files:
    folder: Path
    limit_mb: int
    _bomb: tuple[bytes, int, int, int] | None = None  # raw deflate, size, crc32, adler32

    def path(self, name: str) -> Path:
        return self.folder / name

    def oversized(self) -> Path:
        """One byte over the upload limit, sparse: costs no disk and no time."""
        p = self.path("oversized.pdf")
        with p.open("wb") as fh:
            fh.write(b"%PDF-1.7\n")
            fh.truncate(self.limit_mb * 1024 * 1024 + 1)
        return p

    def empty(self) -> Path:
        p = self.path("empty.pdf")
        p.write_bytes(b"")
        return p

    def not_pdf(self) -> Path:
        p = self.path("report.pdf")
        p.write_text("資產負債表\n這不是 PDF，只是改了副檔名的文字檔。\n" * 20, encoding="utf-8")
        return p

    def truncated(self) -> Path:
        """The real MOPS report cut in half: its cross-reference table and trailer are gone."""
        src = SHARED / "statements" / "2301_202404_AI1.pdf"
        data = src.read_bytes()
        p = self.path("truncated.pdf")
        p.write_bytes(data[: len(data) // 2])
        return p

    def garbage_xref(self) -> Path:
        """A small PDF whose cross-reference table and trailer are overwritten with junk."""
        data = _text_pdf("資產負債表 Balance sheet")
        at = data.rfind(b"xref")
        junk = bytes((i * 37 + 11) % 256 for i in range(len(data) - at - 6))
        p = self.path("garbage_xref.pdf")
        p.write_bytes(data[:at] + junk + b"%%EOF\n")
        return p

    def encrypted(self) -> Path:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(_text_pdf("綜合損益表 Income statement"))))
        writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
        p = self.path("encrypted.pdf")
        with p.open("wb") as fh:
            writer.write(fh)
        return p

    def _deflated(self) -> tuple[bytes, int, int, int]:
        """1.1 GB of spaces, raw-deflated once (about 1 MB), shared by the PDF and zip bombs."""
        if self._bomb is None:
            chunk = b" " * (1 << 20)
            n = 1100
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            parts = [c.compress(chunk) for _ in range(n)]
            parts.append(c.flush())
            crc, adler = 0, 1
            for _ in range(n):
                crc = zlib.crc32(chunk, crc)
                adler = zlib.adler32(chunk, adler)
            self._bomb = (b"".join(parts), n * len(chunk), crc, adler)
        return self._bomb

    def pdf_bomb(self) -> Path:
        """A page whose content stream inflates to 1.1 GB: deflated twice, a few KB on disk."""
        raw, _, _, adler = self._deflated()
        once = b"\x78\xda" + raw + struct.pack(">I", adler)  # the zlib wrapper FlateDecode reads
        twice = zlib.compress(once, 9)
        p = self.path("bomb.pdf")
        p.write_bytes(
            _pdf_with_content(twice, b"[/FlateDecode /FlateDecode]"),
        )
        return p

    def zip_bomb(self, name: str) -> Path:
        """A zip with one 1.1 GB entry of spaces (about 1 MB), named as a report would be."""
        raw, size, crc, _ = self._deflated()
        p = self.path(name)
        p.write_bytes(_zip_one("word/document.xml", raw, size, crc))
        return p

    def blank_pages(self, n: int = 5000) -> Path:
        from pypdf import PdfWriter

        writer = PdfWriter()
        for _ in range(n):
            writer.add_blank_page(595, 842)
        p = self.path("blank_pages.pdf")
        with p.open("wb") as fh:
            writer.write(fh)
        return p


def _pdf_with_content(stream: bytes, filters: bytes, resources: bytes = b"<< >>") -> bytes:
    """A minimal one-page PDF, written by hand so the stream's filters are exactly as given."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources " + resources + b" >>",
        b"<< /Length %d /Filter %s >>\nstream\n" % (len(stream), filters) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _text_pdf(text: str) -> bytes:
    """A one-page PDF with a line of text (Latin only: a core font needs no embedding)."""
    latin = text.encode("ascii", "ignore").decode().strip() or "report"
    content = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % latin.encode()
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    return _pdf_with_content(zlib.compress(content), b"/FlateDecode", font)


def _zip_one(name: str, raw: bytes, size: int, crc: int) -> bytes:
    """A zip archive of one deflated entry, headers written by hand (zip64 for > 4 GiB is not
    needed: 1.1 GB fits the classic fields)."""
    fname = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(raw), size, len(fname), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(raw),
        size,
        len(fname),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + fname + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(fname), len(body), 0)
    return body + central + fname + end


# ---- the data dir -----------------------------------------------------------------------------


def build(data_dir: Path, laws: Path, scratch: Path, *, upload_mb: int) -> Any:
    """The data dir the cases run against: real laws, ledger, scorer and board rates."""
    from assistant.container import Container
    from assistant.settings import load_settings

    settings = load_settings(
        data_dir=data_dir,
        llm={"backend": "none"},
        # a tiny model answers in at most 32 tokens: its streaming is slow
        agents={"answer_max_tokens": 32},
        credit={"max_upload_mb": upload_mb},
    )
    c = Container(settings)
    c.ingestor.ingest_laws(law_subset(laws, scratch / "ChLaw.json", LAWS))
    c.retriever.refresh()
    c.fraud.generate(accounts=300, transfers=3000, seed=7, start=date(2024, 1, 1), days=30, rings=3)
    c.fraud.train()
    rates = SHARED / "fx" / "bot_usd_rates_20141001_20170930.csv"
    if rates.is_file():
        c.fx.import_rates(rates, "BOT")
    return c


# ---- cases ------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    via: str  # service.ask | fraud service | fx service | cli | model
    # raises: refused before anything starts (record must not change either);
    # answers: the turn is answered with the error (recorded, state unchanged)
    expect: str
    play: Callable[[], str]
    # text the message must contain (the specific reason, not any error)
    says: str = ""


@dataclass
class Outcome:
    name: str
    via: str
    expect: str
    got: str  # raised | answered | crashed | accepted
    message: str
    unclear: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ok: bool = False


class Refused(Exception):
    """How a case hands back the error message the user saw."""


def play(case: Case, container: Any) -> Outcome:
    from assistant.errors import AssistantError
    from assistant.llm.base import LLMError

    before = snapshot(container)
    started = time.perf_counter()
    got, message = "answered", ""
    try:
        message = case.play()
    except Refused as exc:
        got, message = "raised", str(exc)
    except (AssistantError, LLMError, ValueError) as exc:
        got, message = "raised", str(exc)
    except Exception as exc:  # a crash: what the user would have seen
        got, message = "crashed", "".join(traceback.format_exception(exc))[-2000:]
    seconds = time.perf_counter() - started
    wanted = {"raises": "raised", "answers": "answered"}[case.expect]
    after = snapshot(container)
    out = Outcome(
        case.name,
        case.via,
        case.expect,
        got,
        message,
        unclear=clarity(message) if got != "crashed" else ["crashed"],
        changed=diff(before["state"], after["state"]),
        recorded=diff(before["record"], after["record"]),
        seconds=round(seconds, 2),
    )
    if case.says and case.says not in message:
        out.unclear.append(f"does not say {case.says!r}")
    if got != wanted:
        out.unclear.append(f"expected the input to be {case.expect}, it was {got}")
    if case.expect == "raises" and out.recorded:
        out.unclear.append("a refusal before the turn left a record")
    out.ok = not out.unclear and not out.changed
    return out


def _cli(data_dir: Path, args: list[str], session: str = "") -> str:
    """The CLI as a logged-in user runs it: exit code 1 (an error it explains) or 2 (a usage
    error). Logged in by a session token, so a command leaves no login attempt behind."""
    from click.testing import CliRunner

    from assistant.cli import cli

    result = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), *args], env={"ASSISTANT_SESSION": session}
    )
    if result.exit_code == 0:
        return result.output  # accepted: no error to show
    if not isinstance(result.exception, SystemExit):
        raise RuntimeError(
            "".join(traceback.format_exception(result.exception))
            if result.exception
            else result.output
        )
    raise Refused(
        re.sub(r"^(Usage:.*\n(\s.*\n)*)?(Try .*\n)?\s*Error: ", "", result.output).strip()
    )


def _answer_text(ans: Any, container: Any) -> str:
    """The answer of a turn answered with an error, after checking its record is consistent."""
    if ans.audit_id is None:
        raise RuntimeError("the turn was not audited")
    record = container.audit.get(ans.audit_id)
    user = container.users.get(record.user_name)
    msgs = container.conversations.messages(user, ans.conversation_id)
    if not any(m.audit_id == ans.audit_id for m in msgs):
        raise RuntimeError("the conversation does not hold the audited turn")
    return ans.answer


def cases(c: Any, files: Files, tiny: Path | None) -> list[Case]:
    """Every bad input, each a closure over the data dir built for them."""
    from assistant.fx.convert import parse_amount

    data_dir = c.settings.data_dir
    analyst = c.users.ensure("rel-analyst", "credit")
    investigator = c.users.ensure("rel-investigator", "fraud")
    from assistant.errors import AssistantError

    fx_officer = c.users.ensure("rel-fx", "fx")
    # The command line's user: an admin logged in once, before any case runs.
    with contextlib.suppress(AssistantError):  # made by an earlier run in this data dir
        c.users.add("rel-cli", "admin", "reliability-cli-1")
    session = c.cli_sessions.start("rel-cli")
    svc = c.service
    known = str(c.fraud.top(1)[0]["account"])
    unknown = "9999-999-999999"

    def upload(make: Callable[[], Path]) -> Callable[[], str]:
        return lambda: _answer_text(svc.ask(analyst, CREDIT_Q, attachments=[make()]), c)

    def chat(user: Any, question: str) -> Callable[[], str]:
        return lambda: _answer_text(svc.ask(user, question), c)

    def fx_convert(amount: Any, on: date | None = None) -> Callable[[], str]:
        return lambda: str(c.fx.convert(amount, "USD", "TWD", on=on).to_dict())

    def fx_check(amount: Any) -> Callable[[], str]:
        return lambda: str(c.fx.check(customer="individual", amount=amount, currency="USD"))

    def cli(*args: str) -> Callable[[], str]:
        return lambda: _cli(data_dir, list(args), session)

    out = [
        # ---- uploads (the credit agent's reports) ----
        Case(
            "upload: one byte over the limit",
            "service.ask",
            "raises",
            upload(files.oversized),
            says="檔案過大",
        ),
        Case("upload: empty file", "service.ask", "raises", upload(files.empty)),
        Case(
            "upload: text file renamed .pdf",
            "service.ask",
            "raises",
            upload(files.not_pdf),
            says="PDF",
        ),
        Case(
            "upload: real report cut in half",
            "service.ask",
            "answers",
            upload(files.truncated),
            says="PDF",
        ),
        Case(
            "upload: PDF with a garbage xref",
            "service.ask",
            "answers",
            upload(files.garbage_xref),
            says="PDF",
        ),
        Case(
            "upload: encrypted PDF (user password)",
            "service.ask",
            "answers",
            upload(files.encrypted),
            says="加密",
        ),
        Case(
            "upload: deflate bomb (1.1 GB content stream)",
            "service.ask",
            "answers",
            upload(files.pdf_bomb),
        ),
        Case(
            "upload: zip bomb (.zip)",
            "service.ask",
            "raises",
            upload(lambda: files.zip_bomb("report.zip")),
            says="PDF",
        ),
        Case(
            "upload: zip bomb renamed .docx",
            "service.ask",
            "raises",
            upload(lambda: files.zip_bomb("report.docx")),
            says="PDF",
        ),
        Case(
            "upload: zip bomb renamed .pdf",
            "service.ask",
            "raises",
            upload(lambda: files.zip_bomb("bomb-zip.pdf")),
            says="PDF",
        ),
        Case("upload: 5000 blank pages", "service.ask", "answers", upload(files.blank_pages)),
        Case(
            "credit CLI: encrypted PDF",
            "cli",
            "raises",
            lambda: _cli(data_dir, ["credit", "extract", str(files.encrypted())], session),
            says="加密",
        ),
        Case(
            "credit CLI: deflate bomb",
            "cli",
            "raises",
            lambda: _cli(data_dir, ["credit", "extract", str(files.pdf_bomb())], session),
        ),
        # ---- unknown accounts ----
        Case(
            "fraud trace: unknown account",
            "fraud service",
            "raises",
            lambda: str(c.fraud.trace(unknown)),
            says="查無帳戶",
        ),
        Case(
            "fraud score: unknown account",
            "fraud service",
            "raises",
            lambda: str(c.fraud.score(unknown)),
            says="查無帳戶",
        ),
        Case(
            "fraud account: unknown account",
            "fraud service",
            "raises",
            lambda: str(c.fraud.account(unknown)),
            says="查無帳戶",
        ),
        Case(
            "fraud CLI trace: unknown account",
            "cli",
            "raises",
            cli("fraud", "trace", unknown),
            says="查無帳戶",
        ),
        Case(
            "chat (fraud role): trace an unknown account",
            "service.ask",
            "answers",
            chat(investigator, f"追查帳戶 {unknown} 的下游三層金流"),
            says="查無帳戶",
        ),
        # ---- dates ----
        Case(
            "fraud CLI trace: 2024-02-30",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--since", "2024-02-30"),
            says="日期",
        ),
        Case(
            "fraud CLI trace: 民國113年13月1日",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--until", "民國113年13月1日"),
            says="日期",
        ),
        Case(
            "fraud CLI trace: 'yesterday-ish'",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--since", "yesterday-ish"),
            says="日期",
        ),
        Case(
            "fx CLI convert: 2024-02-30",
            "cli",
            "raises",
            cli("fx", "convert", "100", "USD", "--to", "TWD", "--date", "2024-02-30"),
            says="日期",
        ),
        Case(
            "fx CLI rate: 民國113年13月1日",
            "cli",
            "raises",
            cli("fx", "rate", "USD", "--date", "民國113年13月1日"),
            says="日期",
        ),
        Case(
            "fx CLI check: 'yesterday-ish'",
            "cli",
            "raises",
            cli(
                "fx",
                "check",
                "--customer",
                "individual",
                "--amount",
                "100",
                "--currency",
                "USD",
                "--date",
                "yesterday-ish",
            ),
            says="日期",
        ),
        Case(
            "chat (fraud role): trace since 2024-02-30",
            "service.ask",
            "answers",
            chat(investigator, f"追查帳戶 {known} 自 2024-02-30 起的下游金流"),
            says="日期",
        ),
        # ---- amounts ----
        Case(
            "fx convert: negative amount", "fx service", "raises", fx_convert("-100"), says="金額"
        ),
        Case("fx convert: zero", "fx service", "raises", fx_convert("0"), says="金額"),
        Case("fx convert: 1e309", "fx service", "raises", fx_convert("1e309"), says="金額"),
        Case(
            "fx convert: float inf", "fx service", "raises", fx_convert(float("inf")), says="金額"
        ),
        Case("fx convert: 'abc'", "fx service", "raises", fx_convert("abc"), says="金額"),
        Case("fx convert: 10^20", "fx service", "raises", fx_convert(10**20), says="金額"),
        Case("fx check: negative amount", "fx service", "raises", fx_check(-5), says="金額"),
        Case("fx check: 10^20", "fx service", "raises", fx_check(str(10**20)), says="金額"),
        Case(
            "fx parse_amount: 'abc'",
            "fx service",
            "raises",
            lambda: str(parse_amount("abc")),
            says="金額",
        ),
        Case(
            "fx CLI convert: -100",
            "cli",
            "raises",
            cli("fx", "convert", "-100", "USD", "--to", "TWD"),
            says="金額",
        ),
        Case(
            "fx CLI convert: 0",
            "cli",
            "raises",
            cli("fx", "convert", "0", "USD", "--to", "TWD"),
            says="金額",
        ),
        Case(
            "fx CLI convert: 1e309",
            "cli",
            "raises",
            cli("fx", "convert", "1e309", "USD", "--to", "TWD"),
            says="金額",
        ),
        Case(
            "fx CLI convert: abc",
            "cli",
            "raises",
            cli("fx", "convert", "abc", "USD", "--to", "TWD"),
            says="金額",
        ),
        Case(
            "fx CLI check: 10^20",
            "cli",
            "raises",
            cli(
                "fx",
                "check",
                "--customer",
                "individual",
                "--amount",
                str(10**20),
                "--currency",
                "USD",
            ),
            says="金額",
        ),
        Case(
            "fraud trace: negative min amount",
            "fraud service",
            "raises",
            lambda: str(c.fraud.trace(known, min_amount=-1)),
            says="金額",
        ),
        Case(
            "fraud trace: min amount inf",
            "fraud service",
            "raises",
            lambda: str(c.fraud.trace(known, min_amount=float("inf"))),
            says="金額",
        ),
        Case(
            "fraud CLI trace: --min-amount -5",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--min-amount", "-5"),
            says="金額",
        ),
        Case(
            "fraud CLI trace: --min-amount 1e309",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--min-amount", "1e309"),
            says="金額",
        ),
        Case(
            "fraud CLI trace: --min-amount abc",
            "cli",
            "raises",
            cli("fraud", "trace", known, "--min-amount", "abc"),
            says="不是數字",
        ),
        Case(
            "chat (fx role): convert -100 USD",
            "service.ask",
            "answers",
            chat(fx_officer, "客戶要結購 -100 美元，要付多少台幣？"),
            says="金額",
        ),
        # ---- prompts longer than allowed ----
        Case(
            "question longer than max_question_chars",
            "service.ask",
            "answers",
            chat(fx_officer, "銀行法第十二條的擔保授信範圍為何？" * 200),
            says="問題過長",
        ),
    ]
    if tiny is not None:
        out += model_cases(c, tiny, fx_officer)
    return out


def model_cases(c: Any, tiny: Path, user: Any) -> list[Case]:
    """A real (tiny, random-weight) llama.cpp model with a small context window: a question
    under the character limit but longer than the context, then a short question in the same
    conversation (its history must not overflow the window either)."""
    from assistant.llm.llama_cpp import LlamaCppLLM

    llm = LlamaCppLLM(tiny, context_size=512, threads=1)
    svc = c.service_with(llm)
    long_q = "依銀行法第十二條，擔保授信的擔保品範圍為何？" * 60  # ~1300 chars, ~3900 tokens
    conv: dict[str, str] = {}

    def too_long() -> str:
        ans = svc.ask(user, long_q)
        conv["id"] = ans.conversation_id
        text = _answer_text(ans, c)
        if "上下文" not in text:
            raise RuntimeError(f"no context error in the answer: {text[:200]!r}")
        return text

    def follow_up() -> str:
        ans = svc.ask(user, "銀行法第十二條是什麼？", conv.get("id"))
        _answer_text(ans, c)
        # Gibberish from a random model is fine; a crash or a lost turn is not.
        msgs = c.conversations.messages(user, ans.conversation_id)
        return f"回答完成，對話 {len(msgs)} 則 / answered, {len(msgs)} messages in the conversation"

    return [
        Case(
            "question longer than the model's context (tiny GGUF, n_ctx 512)",
            "model",
            "answers",
            too_long,
            says="上下文",
        ),
        Case(
            "follow-up after the over-long turn: history fitted, not crashed",
            "model",
            "answers",
            follow_up,
        ),
    ]


# ---- the run ----------------------------------------------------------------------------------


def run(workdir: Path, *, laws: Path | None = None, progress: Callable[..., Any] = print) -> dict:
    """Build the data dir under ``workdir``, play every case, and report each outcome."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    laws = laws or SHARED / "laws" / "ChLaw.json"
    scratch = Path(tempfile.mkdtemp(prefix="bad-inputs-", dir=workdir))
    upload_mb = 2
    started = time.perf_counter()
    progress("building the data dir (laws, ledger, scorer, rates) …")
    container = build(workdir / "data", laws, scratch, upload_mb=upload_mb)
    tiny = None
    try:
        from evals.tiny_gguf import build_tiny_gguf

        tiny = build_tiny_gguf(scratch / "tiny.gguf", n_ctx_train=4096)
    except ImportError:  # llama-cpp or gguf not installed: the model cases are skipped
        progress("no gguf package: the model-context cases are skipped")
    files = Files(scratch, upload_mb)
    outcomes = []
    try:
        for case in cases(container, files, tiny):
            o = play(case, container)
            outcomes.append(o)
            mark = "ok " if o.ok else "BAD"
            progress(f"{mark} {o.name} [{o.got}, {o.seconds:.1f} s] {o.message[:110]!r}")
            for line in o.unclear + o.changed:
                progress(f"      {line}")
    finally:
        container.close()
    return {
        "cases": [asdict(o) for o in outcomes],
        "n": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "record_tables": sorted(RECORD_TABLES),
        "record_dirs": list(RECORD_DIRS),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="Folder for the data dir (default: a temp).")
    parser.add_argument("--laws", type=Path, help="ChLaw.json (default: the shared data's).")
    parser.add_argument("--json", dest="json_out", type=Path, help="Write the report here.")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reliability-"))
    report = run(workdir, laws=args.laws)
    print(f"{report['ok']}/{report['n']} bad inputs refused clearly with nothing changed")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    raise SystemExit(0 if report["ok"] == report["n"] else 1)


if __name__ == "__main__":
    main()
