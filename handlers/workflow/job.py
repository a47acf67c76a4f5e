"""One event's view of the workflow: who acted, which issue and run, which config.

:class:`Job` is built per event by the handlers. It knows the bot's own events (never
acted on), maps an MR to its issue (the run store's alias, or the deterministic branch
name), finds the run (the store, else rebuilt from the forge), loads the repository's
config from the default branch — and when that config is broken, posts ONE comment on
the issue quoting every problem with file and line, keyed by a hash of the problems so
the same error is never reported twice, and the bot does nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.actions import Action, PostComment, React
from bot.errors import NotFound, RepoConfigError
from bot.events import Event
from bot.repoconfig import AgentForgeConfig
from handlers.registry import HandlerContext
from handlers.services import RunRecord, Services
from handlers.workflow import reconstruct
from handlers.workflow.engine import Engine, issue_for_branch
from handlers.workflow.state import strip_markers

CONFIG_ERROR_PREFIX = "config-error."


def when(value: datetime | str | None) -> datetime | None:
    """An event timestamp as an aware datetime (None when absent or unreadable)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def config_error_body(error: RepoConfigError) -> tuple[str, str]:
    """(marker key, comment body) for a broken ``.agentforge/`` config."""
    problems = [str(issue) for issue in error.issues] or [str(error)]
    digest = hashlib.sha256("\n".join(problems).encode()).hexdigest()[:16]
    lines = [
        "⚠️ **AgentForge cannot run here: the `.agentforge/` configuration on the default "
        "branch is invalid.** Nothing else will happen until it is fixed.",
        "",
        "```text",
        *(strip_markers(p).replace("```", "'''") for p in problems[:50]),
        "```",
        "",
        "Fix the file(s) on the default branch (`agentforge config check` shows the same "
        "list locally), then start the run again.",
    ]
    return f"{CONFIG_ERROR_PREFIX}{digest}", "\n".join(lines)


@dataclass
class Job:
    """The workflow's view of one event.

    Attributes:
        event: The event.
        ctx: The handler context.
        services: The shell's services.
    """

    event: Event
    ctx: HandlerContext
    services: Services
    _config: AgentForgeConfig | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def open(cls, event: Event, ctx: HandlerContext) -> Job | None:
        """The job, or None where the shell offers no services (a dry run)."""
        if ctx.services is None or (event.number is None and event.head_ref is None):
            return None
        return cls(event, ctx, ctx.services)

    # --- who -----------------------------------------------------------------------------

    @property
    def repo(self) -> str:
        """The repository's full name."""
        return self.event.repo.full_name

    @property
    def forge(self) -> str:
        """The forge's name."""
        return self.event.forge.value

    def from_self(self) -> bool:
        """Whether the event was caused by the bot itself, or by another bot that the
        repository's ``bots.allow`` does not name.

        The bot's own login counts whatever its account type (a personal token's user
        is no ``[bot]``), so its status comment, replies and agents' text never act as
        commands, whatever they contain.
        """
        actor = self.event.actor
        bot = self.services.bot_login
        if bot and actor.login.lower() == bot.lower():
            return True
        if not actor.is_bot:
            return False
        # Other bots are not colleagues: their text and reviews never move a workflow,
        # unless the default branch's config names them.
        try:
            config = self.services.config.load(self.repo, self.event.repo.default_branch)
        except RepoConfigError:
            return True
        return not config.config.bots.allows(actor.login)

    # --- where ---------------------------------------------------------------------------

    def issue_number(self) -> int | None:
        """The issue the event is about (an MR maps to its run's issue)."""
        event = self.event
        if event.number is not None and not event.is_mr:
            return event.number
        if event.from_fork:
            # A fork's branch may be called agentforge/issue-<N> too: only the run's own
            # MR (recorded by the bot) maps to a run.
            run = self.services.runs.for_mr(self.forge, self.repo, event.number or 0)
            return run.issue_number if run is not None else None
        branch_issue = issue_for_branch(event.head_ref)
        if branch_issue is not None:
            return branch_issue
        if event.number is None:
            return None
        run = self.services.runs.for_mr(self.forge, self.repo, event.number)
        if run is not None:
            return run.issue_number
        try:
            mr = self.services.forge.get_mr(self.repo, event.number)
        except NotFound:
            return None
        return issue_for_branch(mr.head_ref)

    def target_open(self) -> bool:
        """Whether the issue or MR the event is on is still open (commands on closed or
        merged ones are ignored)."""
        event = self.event
        if event.number is None:
            return True
        try:
            if event.is_mr:
                return self.services.forge.get_mr(self.repo, event.number).state == "open"
            return self.services.forge.get_issue(self.repo, event.number).state == "open"
        except NotFound:
            return False

    def locate(self, issue: int) -> RunRecord | None:
        """The issue's run: the active one, else the newest, else rebuilt from the forge."""
        runs = self.services.runs
        found = runs.active_for_issue(self.forge, self.repo, issue) or runs.latest_for_issue(
            self.forge, self.repo, issue
        )
        if found is not None:
            return found
        data = reconstruct.from_forge(self.services, self.repo, issue)
        if data is None:
            return None
        return reconstruct.restore(self.services, data) or runs.latest_for_issue(
            self.forge, self.repo, issue
        )

    # --- config and engine ---------------------------------------------------------------

    def config(self, issue: int | None) -> AgentForgeConfig | None:
        """The repository's config; None when it is broken (reported once on ``issue``)."""
        if self._config is not None:
            return self._config
        try:
            config = self.services.config.load(self.repo, self.event.repo.default_branch)
        except RepoConfigError as exc:
            if issue is not None:
                key, body = config_error_body(exc)
                self.apply(PostComment(repo=self.repo, number=issue, body=body, marker_key=key))
            return None
        if issue is not None:
            config = config.with_workflow(self.workflow_name(config, issue))
        self._config = config
        return self._config

    def workflow_name(self, config: AgentForgeConfig, issue: int) -> str:
        """The workflow of the issue's run, or the one its labels pick for a new run."""
        runs = self.services.runs
        found = runs.active_for_issue(self.forge, self.repo, issue) or runs.latest_for_issue(
            self.forge, self.repo, issue
        )
        if found is not None and not (found.terminal and found.state == "succeeded"):
            return str(found.data.get("workflow") or config.workflow_name)
        labels = list(self.event.labels) if not self.event.is_mr else []
        if not labels:
            try:
                labels = list(self.services.forge.get_issue(self.repo, issue).labels)
            except NotFound:
                labels = []
        return config.workflow_for_labels(labels)

    def engine(self, config: AgentForgeConfig) -> Engine:
        """This job's engine."""
        if self._engine is None:
            from handlers.workflow.commands_table import commands_now

            self._engine = Engine(
                self.services,
                config=config,
                repo=self.event.repo,
                job=str(self.ctx.job_id),
            )
            self._engine.commands_now = commands_now
        return self._engine

    # --- writes --------------------------------------------------------------------------

    def apply(self, action: Action) -> None:
        """Apply one action now."""
        self.services.actions.apply([action])

    def react(self) -> None:
        """👀 on the event's comment: the command was accepted."""
        event = self.event
        if event.number is None or event.comment_id is None:
            return
        self.apply(
            React(
                repo=self.repo,
                number=event.number,
                is_mr=event.is_mr,
                reaction="eyes",
                comment_id=event.comment_id,
                reason="acknowledge a command",
            )
        )

    def loaded_config(self) -> AgentForgeConfig | None:
        """The config if this job has loaded it already (no forge read)."""
        return self._config

    def audit(self, action: str, detail: dict[str, Any], *, number: int | None = None) -> None:
        """One audit row by the event's actor about ``number`` (default: the event's)."""
        trail = self.services.audit
        if trail is not None:
            trail.record(
                self.event.actor.login,
                action,
                repo=self.repo,
                number=number if number is not None else self.event.number,
                detail={"delivery": self.event.delivery_id, **detail},
            )

    def refuse(self, key: str, body: str) -> None:
        """:meth:`reply` to a refused command, at most once per actor per issue or MR per
        ``limits.refusal_reply_minutes`` (a flood of refused commands gets one answer).
        Every refusal is an audit row, answered or not."""
        from handlers.workflow import admission

        due = admission.refusal_due(self)
        self.audit(
            "refused",
            {"what": "command", "comment_id": self.event.comment_id, "replied": due},
        )
        if not due:
            return
        self.reply(key, body)
        admission.refusal_sent(self)

    def reply(self, key: str, body: str) -> None:
        """One reply where the event happened (keyed: a redelivery edits, never reposts)."""
        event = self.event
        if event.number is None:
            return
        self.apply(
            PostComment(
                repo=self.repo,
                number=event.number,
                is_mr=event.is_mr,
                body=body,
                marker_key=key,
                reason="answer a command",
            )
        )
