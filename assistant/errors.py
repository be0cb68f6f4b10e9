"""Errors a user of the assistant can act on; messages are shown as they are, Chinese first."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: a request cannot be served as given."""


class AuthError(AssistantError):
    """Unknown user, wrong password, or a role that may not do what was asked."""


class NotFound(AssistantError):
    """A conversation, answer or user that does not exist (or is not the caller's)."""
