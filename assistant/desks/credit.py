"""The credit desk: a borrower's report read, scored and drafted, and the checker's decision.

The credit agent's tools, ``assistant credit …``, the chat page's review buttons and the HTTP
API all come here with the calling user; each operation is checked against the permission table
and recorded (the file by its sha256, the draft by its id, the decision with a digest of the
final text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.credit.crosscheck import CrossCheck, cross_check
from assistant.credit.ratios import RatioReport, compute
from assistant.credit.rules import Facility
from assistant.credit.scoring import (
    PDModel,
    ScoreResult,
    model_path,
    read_table,
    rows_from_json,
    score_statements,
    train,
)
from assistant.credit.service import CreditService, Decision, MemoDraft, file_sha256
from assistant.credit.statements import Extraction, extract
from assistant.desks.base import AuditTrail, Desk
from assistant.errors import AssistantError
from assistant.permissions import UserContext

REVIEW_ACTIONS = ("approve", "edit", "reject")


@dataclass(frozen=True)
class Decided:
    """A decision taken, where its final text was written, and its audit record."""

    decision: Decision
    final_file: Path | None
    audit_id: int


class CreditDesk(Desk):
    area = "credit"

    def __init__(self, credit: CreditService, audit: AuditTrail) -> None:
        super().__init__(audit)
        self._credit = credit

    # ---- reading a borrower's report ----------------------------------------------------

    def extract(
        self,
        user: UserContext | None,
        pdf: Path,
        *,
        conversation_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Extraction:
        """The report's statements; ``progress`` is told (page, page count) before each
        scanned page is read by OCR (seconds a page, where a report has scanned statements)."""
        pdf = Path(pdf)
        args = {"file": pdf.name, "file_sha256": _sha(pdf)}
        u = self.allow(user, "credit.read", args, conversation_id=conversation_id)
        x = extract(pdf, progress=progress)
        self.record(
            u,
            "credit.extract",
            args,
            f"{x.company or '-'}; {len(x.items)} items",
            conversation_id=conversation_id,
        )
        return x

    def ratios(
        self,
        user: UserContext | None,
        extraction: Extraction,
        *,
        conversation_id: str | None = None,
    ) -> RatioReport:
        """Ratios of statements this user has just read through :meth:`extract`."""
        args = {"file": extraction.file}
        self.allow(user, "credit.read", args, conversation_id=conversation_id)
        return compute(extraction)

    def cross_check(
        self,
        user: UserContext | None,
        extractions: list[Extraction],
        *,
        conversation_id: str | None = None,
    ) -> CrossCheck:
        """The reports loaded together, compared: the same date's figure must agree across two
        reports of one company (a quarter's comparative column against the annual report's
        current column). Disagreeing figures are flagged in the extractions themselves, so a
        memo or ratios computed from them afterwards refuse them and name both reports.

        The loaded reports live with the caller for the one request (the CLI's files given
        together, the memo's ``--compare`` files): nothing is kept between requests."""
        args = {"files": [x.file for x in extractions]}
        u = self.allow(user, "credit.read", args, conversation_id=conversation_id)
        result = cross_check(extractions)
        self.record(
            u,
            "credit.cross_check",
            args,
            f"{result.compared} compared, {len(result.disagreements)} disagree",
            conversation_id=conversation_id,
        )
        return result

    def pd_model_ready(self) -> bool:
        """Whether a PD model has been trained (says nothing of any borrower)."""
        return model_path(self._credit.data_dir).is_file()

    def score_statements(
        self,
        user: UserContext | None,
        extraction: Extraction,
        report: RatioReport,
        *,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """The borrower's PD from the trained model, when it was trained on columns a
        company's statements have."""
        args = {"file": extraction.file}
        u = self.allow(user, "credit.read", args, conversation_id=conversation_id)
        out = score_statements(model_path(self._credit.data_dir), extraction, report)
        self.record(u, "credit.score", args, f"PD {out['pd']:.4f}", conversation_id=conversation_id)
        return out

    # ---- drafts and decisions -------------------------------------------------------------

    def draft(
        self,
        user: UserContext | None,
        pdf: Path,
        facility: Facility,
        *,
        docx_path: Path | None = None,
        markdown_path: Path | None = None,
        extraction: Extraction | None = None,
        conversation_id: str | None = None,
    ) -> MemoDraft:
        pdf = Path(pdf)
        args = {"file": pdf.name, "inputs": facility.to_dict()}
        u = self.allow(user, "credit.draft", args, conversation_id=conversation_id)
        d = self._credit.draft(
            pdf,
            facility,
            user=u.name,
            docx_path=docx_path,
            markdown_path=markdown_path,
            extraction=extraction,
        )
        self.record(
            u,
            "credit.draft",
            {"memo_id": d.id, "file_sha256": d.file_sha256, "inputs": d.facility.to_dict()},
            "draft",
            conversation_id=conversation_id,
        )
        return d

    def drafts(
        self, user: UserContext | None, status: str | None = None, limit: int = 50
    ) -> list[Any]:
        args = {"status": status, "limit": limit}
        u = self.allow(user, "credit.read", args)
        rows = self._credit.drafts(status, limit)
        self.record(u, "credit.drafts", args, f"{len(rows)} 份 memos")
        return rows

    def status(self, user: UserContext | None, memo_id: int) -> str:
        """A draft's status (draft, approved, rejected), or "missing"."""
        self.allow(user, "credit.read", {"memo_id": memo_id})
        try:
            return self._credit.get(memo_id).status
        except AssistantError:
            return "missing"

    def decide(
        self,
        user: UserContext | None,
        memo_id: int,
        action: str,
        *,
        markdown: str | None = None,
        note: str = "",
        conversation_id: str | None = None,
        checker: str | None = None,
    ) -> Decided:
        """Approve, approve an edited text, or reject a draft; the final text is written next
        to the draft and the decision recorded. ``checker``: the name a paused run's decision
        was first taken under, when the run replays it on resume (the role check is on
        ``user``, who resumes)."""
        args = {"memo_id": memo_id, "action": action, "note": note.strip()}
        u = self.allow(user, "credit.decide", args, conversation_id=conversation_id)
        name = checker or u.name
        if action == "approve":
            d = self._credit.approve(memo_id, name, note=note)
        elif action == "edit":
            d = self._credit.approve(memo_id, name, edited_markdown=markdown, note=note)
        elif action == "reject":
            d = self._credit.reject(memo_id, name, note)
        else:
            raise AssistantError(
                f"覆核動作須為 approve、edit 或 reject / the action must be approve, edit or "
                f"reject: {action!r}"
            )
        final_path = None
        if d.final_markdown is not None:
            final_path = self._credit.memo_dir / f"credit-memo-{memo_id}-final.md"
            final_path.parent.mkdir(parents=True, exist_ok=True)
            final_path.write_text(d.final_markdown, encoding="utf-8")
        audit_id = self.record(
            u,
            f"credit.{d.action}",
            {**d.audit_args(), "final_markdown": d.final_markdown, "action": action},
            d.status,
            conversation_id=conversation_id,
        )
        return Decided(d, final_path, audit_id)

    # ---- the probability-of-default model -------------------------------------------------

    def train_pd(
        self,
        user: UserContext | None,
        csv_path: Path,
        target: str,
        id_column: str | None = None,
        *,
        seed: int = 0,
    ) -> dict[str, Any]:
        args = {"file": Path(csv_path).name, "target": target, "id_column": id_column}
        u = self.allow(user, "credit.train", args)
        report = train(
            csv_path, target, model_path(self._credit.data_dir), id_column, seed=seed
        ).as_dict()
        self.record(
            u, "credit.train", args, f"rows {report['rows_used']}, AUC {report['cv_auc']:.4f}"
        )
        return report

    def score_pd(
        self,
        user: UserContext | None,
        *,
        csv_path: Path | None = None,
        row_json: str | None = None,
        reasons: int = 3,
        top: int | None = None,
    ) -> ScoreResult:
        """PD per applicant of a CSV file, or of one row given as JSON."""
        args = {"file": Path(csv_path).name if csv_path else "--row"}
        u = self.allow(user, "credit.read", args)
        model = PDModel.load(model_path(self._credit.data_dir))
        table = read_table(csv_path) if csv_path else rows_from_json(row_json or "")
        result = model.score_table(table, reasons=reasons, top=top)
        self.record(u, "credit.score", args, f"{len(result.scored)} 筆 scored")
        return result


def _sha(pdf: Path) -> str:
    try:
        return file_sha256(pdf)
    except OSError:
        return ""
