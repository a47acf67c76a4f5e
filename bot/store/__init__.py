"""Embedded stores: DuckDB records (:mod:`bot.store.db`) and the LanceDB index.

DuckDB allows one writing process per database file, so one process per data
directory is the writer (it holds ``writer.lock``); other processes either talk to it
or open the records read-only when it is not running. State users need also lives on
the forge and in git, so these stores can always be rebuilt.
"""
