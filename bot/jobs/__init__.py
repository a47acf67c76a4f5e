"""The job side: the DuckDB queue, its feeder's store, workers and dispatch.

Jobs are written, leased, run and recorded here (:mod:`bot.jobs.queue`,
:mod:`bot.jobs.worker`, :mod:`bot.jobs.dispatch`), and routed (priorities, subjects,
follow-ups, reconcile, CI dispatch).
"""
