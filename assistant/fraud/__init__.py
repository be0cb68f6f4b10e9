"""Fraud investigation: the ledger of accounts and transfers that traces and scores read.

``records`` holds the tables, ``ledger`` the fast bulk writes and reads, ``importers`` the
AMLSim and generic-CSV importers, ``generator`` a synthetic ledger with planted fraud.
"""
