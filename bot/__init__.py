"""AgentForge platform: CLI, settings, webhook server, queue, forges, git workspace, stores.

This package is the shell around the product: it receives and delivers. Only it imports
FastAPI, the forge SDKs, pygit2/GitPython, DuckDB and LanceDB. The contract modules
(:mod:`bot.errors`, :mod:`bot.events`, :mod:`bot.forge`, :mod:`bot.actions`,
:mod:`bot.repoconfig`) are the shared vocabulary that ``handlers``, ``agents`` and
``policies`` may import.
"""

__version__ = "0.1.0"
