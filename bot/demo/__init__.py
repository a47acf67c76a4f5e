"""``agentforge demo``: the whole workflow on a sandboxed local forge and sample project.

- :mod:`bot.demo.model`: which model the user configured (keys, a local server).
- :mod:`bot.demo.sandbox`: the sandbox (sample project, local forge, people, issue).
- :mod:`bot.demo.ci`: the demo's CI (the sample project's tests on a commit).
- :mod:`bot.demo.session`: the bot as ``serve --local`` runs it, and the reviewer.
- :mod:`bot.demo.view`: what the terminal shows.

The sample project under ``sample/`` is package data, copied into each sandbox.
"""
