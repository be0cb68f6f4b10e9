"""Page text of a financial report PDF, and the distinct reasons a report cannot be read.

pypdf (already a dependency, BSD) reads the text layer. Pages are read lazily, in order: the
statements of a MOPS report follow the auditor's report within the first ~20 pages, so the
extractor stops early and a 100-page report costs a fraction of reading every page.

Reports filed on MOPS are often "encrypted" with an empty user password (owner restrictions
only: no printing or copying); those open normally. Only a report that needs a password to be
read is refused as encrypted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError


class StatementError(AssistantError):
    """A report the extractor cannot read; ``kind`` says why, for scripts and the eval."""

    kind = "unreadable"


class UnreadablePdf(StatementError):
    """Not a PDF, or a damaged one."""

    kind = "not_pdf"


class EncryptedPdf(StatementError):
    """A PDF that needs a password to open."""

    kind = "encrypted"


class NoTextLayer(StatementError):
    """A scanned report: pages are images, there is no text to read figures from."""

    kind = "no_text"


class StatementsNotFound(StatementError):
    """A readable PDF in which the three statements (or their rows) cannot be found."""

    kind = "not_found"


# A page with fewer printable characters than this counts as having no text (a scanned page
# may still carry a page number or a stamp in text).
MIN_PAGE_CHARS = 20
# Scanned pages read by OCR at most, per report (~13 s each on two cores): the statements
# follow the auditor's report within the first ~20 pages, and a 300-page scan must not hold a
# worker for an hour looking for them.
MAX_OCR_PAGES = 30


class PdfText:
    """The text of a PDF's pages, read on demand and cached.

    With ``ocr`` (a function from a pypdf page to its text), a page without a text layer is
    read by it instead; ``ocr_pages`` lists those pages (0-based) and ``ocr_seconds`` the time
    they took. ``progress`` is told (1-based page, page count) before each page is OCR'd."""

    def __init__(
        self,
        path: Path | str,
        ocr: Callable[[Any], str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._ocr = ocr
        self._progress = progress
        self.ocr_pages: list[int] = []
        self.ocr_seconds = 0.0
        if not self.path.is_file():
            raise UnreadablePdf(f"找不到檔案 / file not found: {self.path}")
        # pypdf logs every recoverable oddity of real-world files (bad /Perms, xref offsets);
        # the result is what matters here, so keep the user's terminal clean.
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, PdfReadError

        try:
            with self.path.open("rb") as f:
                head = f.read(1024)
            if b"%PDF" not in head:
                raise UnreadablePdf(f"不是 PDF 檔 / not a PDF file: {self.path.name}")
            self._reader: Any = PdfReader(self.path)
            if self._reader.is_encrypted:
                try:
                    opened = self._reader.decrypt("")
                except (DependencyError, NotImplementedError) as exc:
                    raise EncryptedPdf(
                        f"PDF 已加密且無法解密，請提供未加密版本 / the PDF is encrypted with a "
                        f"method that cannot be opened here ({exc}): {self.path.name}"
                    ) from exc
                if not opened:
                    raise EncryptedPdf(
                        f"PDF 已加密，需要密碼才能開啟，請提供未加密版本 / the PDF is encrypted "
                        f"and needs a password to open; supply an unencrypted copy: "
                        f"{self.path.name}"
                    )
            self.page_count = len(self._reader.pages)
        except StatementError:
            raise
        except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
            raise UnreadablePdf(
                f"無法讀取 PDF（檔案損毀或格式不符）/ cannot read the PDF (damaged or not a "
                f"PDF): {self.path.name}: {exc}"
            ) from exc
        self._texts: dict[int, str] = {}

    def text(self, index: int) -> str:
        """The text of page ``index`` (0-based); an unreadable page reads as empty."""
        if index not in self._texts:
            from pypdf.errors import LimitReachedError

            page = self._reader.pages[index]
            try:
                text = page.extract_text() or ""
                contents = page.get_contents() if not text.strip() else None
                if contents is not None:
                    # pypdf swallows a content stream that inflates past its output limit
                    # (75 MB: memory and time stay bounded) and returns no text. Decoding the
                    # page's own stream again (a scan's is a few bytes) tells a decompression
                    # bomb from a scanned page, so the user is not told "no text layer".
                    contents.get_data()
                self._texts[index] = text
            except LimitReachedError as exc:
                raise UnreadablePdf(
                    f"PDF 第 {index + 1} 頁的內容解壓後過大，疑似壓縮炸彈，已停止讀取 / page "
                    f"{index + 1} of the PDF inflates past the size limit (a decompression "
                    f"bomb?); reading stopped: {self.path.name}"
                ) from exc
            except Exception:  # one bad content stream must not sink the whole report
                self._texts[index] = ""
            if (
                self._ocr is not None
                and len("".join(self._texts[index].split())) < MIN_PAGE_CHARS
                and len(self.ocr_pages) < MAX_OCR_PAGES
            ):
                self._texts[index] = self._read_scan(index, page) or self._texts[index]
        return self._texts[index]

    def _read_scan(self, index: int, page: Any) -> str:
        assert self._ocr is not None
        if self._progress is not None:
            self._progress(index + 1, self.page_count)
        started = time.perf_counter()
        try:
            return self._ocr(page)
        except StatementError:
            raise  # the OCR cannot run at all (its package missing): say so, once
        except Exception:  # one image that cannot be decoded must not sink the whole report
            return ""
        finally:
            self.ocr_pages.append(index)
            self.ocr_seconds += time.perf_counter() - started

    def pages(self) -> Iterator[tuple[int, str]]:
        """(0-based index, text) of every page, in order, read as the caller advances."""
        for i in range(self.page_count):
            yield i, self.text(i)

    @property
    def pages_read(self) -> int:
        return len(self._texts)

    def text_share(self) -> float:
        """The share of the pages read so far that have a text layer."""
        if not self._texts:
            return 0.0
        with_text = sum(
            1 for t in self._texts.values() if len("".join(t.split())) >= MIN_PAGE_CHARS
        )
        return with_text / len(self._texts)
