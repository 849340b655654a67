"""The call store: every call in the app's own storage account, listed newest first.

Table Storage holds the index (one row per call, by day and by caller), Blob Storage the full
record with its transcript. :mod:`~switchboard.store.account` reaches the account,
:mod:`~switchboard.store.keys` orders the rows, :mod:`~switchboard.store.query` validates the
list's parameters and :mod:`~switchboard.store.calls` reads and writes.
"""
