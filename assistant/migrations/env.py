"""Alembic's environment: runs the revisions on the connection ``assistant.schema`` passes in.

That connection is already inside the transaction holding the schema lock, so Alembic leaves
the commit to the caller and the whole upgrade is one transaction: all of it or none of it.
"""

from __future__ import annotations

from alembic import context

from assistant.schema import include_name, target_metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    # The first revision looks at what an old database already has: there is no SQL script
    # to write ahead of time, and no URL of its own to connect to.
    raise RuntimeError(
        "請以 assistant db upgrade 執行遷移 / run the migrations with `assistant db upgrade` "
        "(or assistant.schema.upgrade with an engine)"
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    include_name=include_name,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
