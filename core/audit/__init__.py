"""The audit trail (issue 13): every live verdict in a SQLite file, NG frames under a disk cap, the history read
back and exported, and the start-of-shift self-test. Qt-free: `python -m core inspect`, `history`, `self-test` and
the window share it.

    location.py   where the database, its NG frames and the self-test parts live
    records.py    the stored records (model identity, verdict, self-test run)
    store.py      the SQLite database (WAL): write, set the operator's action, query
    frames.py     NG frame JPEGs with a disk cap
    recorder.py   batched writes from a thread of their own, for the live loop
    history.py    time arguments, summary, CSV
    self_test.py  known good / bad parts: register, score, record
"""
