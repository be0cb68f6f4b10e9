"""A logging filter that masks personal data before any handler writes it.

Attach it to handlers, not loggers: a logger's filters do not see records that propagate up
from child loggers, a handler's do. The message is formatted once here (``msg % args``), masked,
and stored with no args, so that what a handler writes is exactly what was masked; a traceback
is formatted and masked here too, since the formatter would otherwise print it unmasked.
"""

from __future__ import annotations

import logging

from assistant.pii.masking import MaskStyle, mask

_FORMATTER = logging.Formatter()


class PIIMaskingFilter(logging.Filter):
    def __init__(
        self,
        name: str = "",
        *,
        style: MaskStyle = "partial",
        keep: int = 4,
        key: bytes | None = None,
    ) -> None:
        super().__init__(name)
        self._style, self._keep, self._key = style, keep, key

    def _mask(self, text: str) -> str:
        return mask(text, style=self._style, keep=self._keep, key=self._key)

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        record.msg, record.args = self._mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True


# The server's loggers: ours (root), and the web stack's, which have handlers of their own.
SERVER_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "gradio", "httpx")


def install_log_masking(loggers: tuple[str, ...] = SERVER_LOGGERS) -> int:
    """Mask personal data in everything the server logs: the filter goes on every handler of
    these loggers (root gets a stderr handler first if it has none, so nothing falls through to
    logging's unfiltered last-resort handler). Idempotent; returns the handlers filtered."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    done = 0
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PIIMaskingFilter) for f in handler.filters):
                handler.addFilter(PIIMaskingFilter())
                done += 1
    return done
