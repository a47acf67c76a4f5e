"""Arms ``tests/e2e/crashpoints.py``'s crash in the bot's jobs process.

``agentforge serve`` runs its jobs in a child (``python -m bot.jobs.process``) started
with the server's environment; the crash matrix puts this directory on that
environment's ``PYTHONPATH``, so Python imports this file at start-up, before the bot.
Only the jobs process is armed here (the server is armed by ``crashpoints.py`` itself).
"""

import os
import sys

if os.environ.get("CRASHPOINTS_ARM") and "bot.jobs.process" in sys.orig_argv:
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from crashpoints import arm_from_env

    arm_from_env()
