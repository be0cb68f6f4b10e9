"""The revisions, oldest first: 0001 the schema of the release before migrations, then one
file per change. Alembic finds them by their ``revision`` and ``down_revision``."""
