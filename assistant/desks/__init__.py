"""Desks: the use-case services every channel calls with the calling user.

Each desk method checks the permission table (``assistant.permissions.OPERATIONS``) and writes
the audit record, allowed and denied alike. Above the desks (agents, CLI, page, HTTP API)
nothing checks a role or writes the audit; below them (fraud, credit, FX, knowledge) nothing
knows about users.

Import each desk from its module (``assistant.desks.fraud``, …): a desk pulls in its domain's
libraries, and a command pays only for the desk it uses.
"""
