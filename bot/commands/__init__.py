"""The CLI's command registry: one line per top-level command.

Each entry maps a command name to ``"module:attribute"`` of a :mod:`click` command.
Modules are imported only when their command runs (or its ``--help`` is asked for),
so ``agentforge --help`` and ``agentforge parse-event`` never import LanceDB, the
model SDKs or smolagents. To add a command: write ``bot/commands/<name>.py`` and add
one line here.
"""

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, one-line help shown by `agentforge --help`)
    "parse-event": (
        "bot.commands.parse_event:parse_event",
        "Print a webhook payload as a normalised event.",
    ),
    "config": ("bot.commands.config:config", "Validate a repository's .agentforge/ files."),
    "local": ("bot.commands.local:local", "Use the local forge: issues, comments, MRs, reviews."),
    "serve": ("bot.commands.serve:serve", "Run the webhook server and workers."),
    "jobs": ("bot.commands.jobs:jobs", "Inspect and retry queued jobs."),
    "doctor": ("bot.commands.doctor:doctor", "Check forge connections and permissions."),
    "index": ("bot.commands.index:index", "Index a repository for search."),
    "search": ("bot.commands.search:search", "Search an indexed repository."),
    "stats": ("bot.commands.stats:stats", "Runs, phases and cost from the records."),
    "audit": ("bot.commands.audit:audit", "Verify the hash-chained audit log."),
    "models": ("bot.commands.models:models", "List model routes and test providers."),
    "role": ("bot.commands.role:role", "Run one role agent on a local checkout."),
    "run": ("bot.commands.run:run", "Handle one event in a CI job (GitHub Action / GitLab CI)."),
    "reconcile": (
        "bot.commands.reconcile:reconcile",
        "Sweep a repository's runs once (missed commands, stuck runs).",
    ),
}
