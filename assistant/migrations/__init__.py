"""The Alembic migration environment: env.py, the revision template and versions/.

Run through ``assistant.schema`` (``assistant db upgrade``), never on its own: env.py expects
the connection that module hands it, inside the transaction that holds the schema lock.
"""
