"""Errors a user can act on. Their messages are shown as they are, in Chinese first."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class: something the user gave or asked for cannot be used."""


class IngestError(KnowledgeError):
    """A file cannot be ingested; nothing already indexed was changed."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class SearchError(KnowledgeError):
    """A question or filter cannot be searched as given."""


class IndexNotReady(KnowledgeError):
    """Nothing has been ingested yet."""
