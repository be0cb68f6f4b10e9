"""The credit desk service: what the CLI, the credit agent and the UI call.

A memo is drafted from a statement PDF and the analyst's facility facts, stored as a draft,
and becomes final only through a person's decision (maker-checker): ``approve`` (optionally
with the text as the checker edited it) or ``reject`` (with a reason). The service returns each
decision with its final text; recording it in the audit trail is the caller's job, since the
caller knows the user's session and conversation.

With ``four_eyes`` off (the default, as the issue asks) an analyst may approve their own draft;
with it on, the checker must be someone other than the maker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.credit.memo import Flag, Memo, Thresholds, compose
from assistant.credit.memo_docx import to_docx, to_markdown
from assistant.credit.records import MEMO_STATUSES, CreditMemoRow
from assistant.credit.rules import RULES, AppliedRule, Facility, LendingRule, applicable
from assistant.errors import AssistantError, AuthError, NotFound
from assistant.records import utcnow

if TYPE_CHECKING:
    from assistant.credit.statements import Extraction
    from knowledge.catalog import Catalog


@dataclass
class MemoDraft:
    id: int
    created_by: str
    created_at: datetime
    file_name: str
    file_sha256: str
    company: str | None
    markdown: str
    docx_path: Path | None
    markdown_path: Path | None
    memo: Memo
    rules: list[AppliedRule]
    facility: Facility
    status: str = "draft"

    @property
    def flags(self) -> list[Flag]:
        return self.memo.flags

    def to_dict(self, *, text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "file_name": self.file_name,
            "file_sha256": self.file_sha256,
            "company": self.company,
            "inputs": self.facility.to_dict(),
            "docx": str(self.docx_path) if self.docx_path else None,
            "markdown_file": str(self.markdown_path) if self.markdown_path else None,
            "flags": [f.to_dict() for f in self.flags],
            "rules": [r.to_dict() for r in self.rules],
            "debt_service": self.memo.debt_service,
            "sections": [s.heading for s in self.memo.document.sections],
        }
        if text:
            out["markdown"] = self.markdown
        return out


@dataclass
class Decision:
    """A checker's decision on a draft, and the text that is now final (None when rejected)."""

    id: int
    action: str  # "approve" | "reject"
    status: str  # the draft's status after the decision
    maker: str
    checker: str
    decided_at: datetime
    edited: bool
    note: str
    final_markdown: str | None
    file_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def audit_args(self) -> dict[str, Any]:
        """What the audit trail records: who made and who decided, the file, and a hash of
        the final text (the text itself stays in the credit_memo table)."""
        digest = (
            hashlib.sha256(self.final_markdown.encode("utf-8")).hexdigest()
            if self.final_markdown is not None
            else None
        )
        return {
            "memo_id": self.id,
            "maker": self.maker,
            "edited": self.edited,
            "note": self.note,
            "file_sha256": self.file_sha256,
            "final_sha256": digest,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "maker": self.maker,
            "checker": self.checker,
            "decided_at": self.decided_at.isoformat(timespec="seconds"),
            "edited": self.edited,
            "note": self.note,
            "final_markdown": self.final_markdown,
        }


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class CreditService:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog | None,
        data_dir: Path,
        *,
        four_eyes: bool = False,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._engine = engine
        self.catalog = catalog
        self.data_dir = Path(data_dir)
        self.four_eyes = four_eyes
        self.thresholds = thresholds or Thresholds()

    @property
    def rules(self) -> tuple[LendingRule, ...]:
        return RULES

    @property
    def memo_dir(self) -> Path:
        return self.data_dir / "credit" / "memos"

    def applicable_rules(self, facility: Facility) -> list[AppliedRule]:
        return applicable(facility, self.catalog)

    def draft(
        self,
        pdf: str | Path,
        facility: Facility,
        *,
        user: str,
        docx_path: str | Path | None = None,
        markdown_path: str | Path | None = None,
        extraction: Extraction | None = None,
    ) -> MemoDraft:
        """Extract, compute, compose and store a draft; write it as DOCX (under the data folder
        unless ``docx_path`` is given) and, when asked, as Markdown. ``extraction``: the
        statements already read from ``pdf`` (the agent has them from an earlier step), so
        the file is not read twice."""
        from assistant.credit.ratios import compute
        from assistant.credit.statements import extract

        if not user.strip():
            raise AuthError("需指定製作人 / a draft needs its maker's name")
        pdf = Path(pdf)
        sha = file_sha256(pdf)
        x = extraction if extraction is not None else extract(pdf)
        report = compute(x)
        rules = self.applicable_rules(facility)
        now = utcnow()
        with Session(self._engine) as s:
            row = CreditMemoRow(
                created_at=now,
                created_by=user,
                file_name=pdf.name,
                file_sha256=sha,
                company=x.company,
                inputs=facility.to_dict(),
                markdown="",
            )
            s.add(row)
            s.flush()  # allocates the id the memo prints; nothing is kept if composing fails
            assert row.id is not None
            memo = compose(
                x,
                report,
                facility,
                rules,
                thresholds=self.thresholds,
                prepared_by=user,
                prepared_at=now,
                draft_id=row.id,
                file_sha256=sha,
            )
            row.markdown = to_markdown(memo.document)
            s.add(row)
            s.commit()
            memo_id, markdown = row.id, row.markdown
        docx = to_docx(memo.document, docx_path or self.memo_dir / f"credit-memo-{memo_id}.docx")
        md_path = None
        if markdown_path is not None:
            md_path = Path(markdown_path)
            md_path.parent.mkdir(parents=True, exist_ok=True)
            md_path.write_text(markdown, encoding="utf-8")
        return MemoDraft(
            memo_id,
            user,
            now,
            pdf.name,
            sha,
            x.company,
            markdown,
            docx,
            md_path,
            memo,
            rules,
            facility,
        )

    def get(self, memo_id: int) -> CreditMemoRow:
        with Session(self._engine) as s:
            row = s.get(CreditMemoRow, memo_id)
        if row is None:
            raise NotFound(f"沒有這份徵信報告草稿 / no such credit memo: {memo_id}")
        return row

    def drafts(self, status: str | None = None, limit: int = 50) -> list[CreditMemoRow]:
        """The latest memos first, of one status or all."""
        if status is not None and status not in MEMO_STATUSES:
            raise AssistantError(
                f"狀態錯誤 / unknown status {status!r}; one of {', '.join(MEMO_STATUSES)}"
            )
        with Session(self._engine) as s:
            q = select(CreditMemoRow).order_by(col(CreditMemoRow.id).desc()).limit(limit)
            if status is not None:
                q = q.where(CreditMemoRow.status == status)
            return list(s.exec(q))

    def approve(
        self, memo_id: int, user: str, edited_markdown: str | None = None, note: str = ""
    ) -> Decision:
        """Make the draft final: as generated, or as the checker edited it."""
        if edited_markdown is not None and not edited_markdown.strip():
            raise AssistantError("修改後的報告是空的 / the edited memo is empty")
        return self._decide(memo_id, user, "approve", edited_markdown, note)

    def reject(self, memo_id: int, user: str, note: str) -> Decision:
        """Turn the draft down; a rejection says why."""
        if not note.strip():
            raise AssistantError("退件需註明理由 / a rejection needs a note saying why")
        return self._decide(memo_id, user, "reject", None, note)

    def _decide(
        self, memo_id: int, user: str, action: str, edited: str | None, note: str
    ) -> Decision:
        if not user.strip():
            raise AuthError("需指定覆核人 / a decision needs the checker's name")
        with Session(self._engine) as s:
            row = s.get(CreditMemoRow, memo_id)
            if row is None:
                raise NotFound(f"沒有這份徵信報告草稿 / no such credit memo: {memo_id}")
            if row.status != "draft":
                raise AssistantError(
                    f"草稿 {memo_id} 已{'核准' if row.status == 'approved' else '退件'}，不可再覆核 "
                    f"/ memo {memo_id} is already {row.status}"
                )
            if self.four_eyes and user == row.created_by:
                raise AuthError(
                    f"雙人覆核：製作人 {user} 不得覆核自己的草稿 / four-eyes: the maker cannot "
                    "decide on their own draft"
                )
            now = utcnow()
            row.status = "approved" if action == "approve" else "rejected"
            row.decided_by = user
            row.decided_at = now
            row.note = note.strip()
            if action == "approve":
                text = edited if edited is not None else row.markdown
                row.final_markdown = _approved_status(text, user, now)
            s.add(row)
            s.commit()
            s.refresh(row)
            return Decision(
                id=memo_id,
                action=action,
                status=row.status,
                maker=row.created_by,
                checker=user,
                decided_at=now,
                edited=edited is not None and edited != row.markdown,
                note=row.note,
                final_markdown=row.final_markdown,
                file_sha256=row.file_sha256,
            )


_STATUS_LINE = "> **狀態 Status**："


def _approved_status(markdown: str, user: str, when: datetime) -> str:
    """The final text no longer says it awaits approval: the status line (as ``to_markdown``
    writes it) names the checker and the time instead; text without one is kept as it is."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(_STATUS_LINE):
            stamp = when.isoformat(timespec="seconds")
            lines[i] = f"{_STATUS_LINE}已核准 approved（覆核人 checker {user}，{stamp}）"
            break
    return "\n".join(lines)
