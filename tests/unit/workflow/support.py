"""Drive the workflow handlers with events, as the worker would, over the fakes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.actions import PostComment
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef, ReviewState
from bot.forge import CommitState, CommitStatus, Review, User
from bot.repoconfig import AgentForgeConfig, Phase, WorkflowConfig
from handlers.registry import HandlerContext, HandlerRegistry
from handlers.workflow import register
from handlers.workflow.state import RunData, decode_marker
from tests.unit.workflow.fakes import BOT, REPO, World, world

HTML = "https://forge.example/acme/app"


def all_human() -> AgentForgeConfig:
    """The default six phases, every gate ``human``."""
    phases = [Phase(**{**p.model_dump(), "gate": "human"}) for p in WorkflowConfig().phases]
    return AgentForgeConfig(workflow=WorkflowConfig(phases=phases))


def workflow(*phases: Phase) -> AgentForgeConfig:
    """A config with just these phases."""
    return AgentForgeConfig(workflow=WorkflowConfig(phases=list(phases)))


@dataclass
class Bot:
    """A world plus a handler registry, fed events one job at a time."""

    w: World
    forge: str = "github"
    jobs: itertools.count = field(default_factory=lambda: itertools.count(1))
    registry: HandlerRegistry = field(default_factory=HandlerRegistry)

    def __post_init__(self) -> None:
        register(self.registry)

    # --- events ------------------------------------------------------------------------

    def event(self, kind: EventKind, **fields) -> Event:
        fields.setdefault("actor", Actor(login="erin"))
        return Event(
            forge=ForgeKind(self.forge),
            kind=kind,
            repo=RepoRef(full_name=REPO, default_branch="main", html_url=HTML),
            **fields,
        )

    def handle(self, event: Event, *, job: int | None = None, attempt: int = 1) -> None:
        ctx = HandlerContext(
            job_id=job if job is not None else next(self.jobs),
            delivery_id=event.delivery_id,
            attempt=attempt,
            services=self.w.services(),
        )
        assert self.registry.handle(event, ctx) == []

    def label(self, *, who: str = "erin", job: int | None = None, attempt: int = 1) -> Event:
        event = self.event(
            EventKind.ISSUE,
            action="labeled",
            number=7,
            label="agentforge",
            labels=["agentforge"],
            state="open",
            actor=Actor(login=who),
            delivery_id="d-label",
        )
        self.handle(event, job=job, attempt=attempt)
        return event

    def comment(
        self,
        body: str,
        *,
        who: str = "alice",
        on_mr: bool = False,
        action: str = "created",
        is_bot: bool = False,
        send: bool = True,
    ) -> Event:
        number = self.mr_number() if on_mr else 7
        made = self.w.forge.human_comment(number, who, body, is_mr=on_mr)
        event = self.event(
            EventKind.MR_COMMENT if on_mr else EventKind.ISSUE_COMMENT,
            action=action,
            number=number,
            is_mr=on_mr,
            comment=body,
            comment_id=made.id,
            actor=Actor(login=who, is_bot=is_bot),
            updated_at=made.created_at,
            delivery_id=f"d-{made.id}",
        )
        if send:
            self.handle(event)
        return event

    def approve(self, who: str = "alice", *, on_mr: bool = True) -> Event:
        return self.comment("/approve", who=who, on_mr=on_mr and self.mr_number() is not None)

    def gitlab_approval(self, who: str = "alice", sha: str | None = None) -> Event:
        mr = self.w.forge.get_mr(REPO, self.mr_number())
        event = self.event(
            EventKind.MR_REVIEW,
            action="approved",
            event_name="Merge Request Hook",
            number=mr.number,
            is_mr=True,
            head_ref=mr.head_ref,
            head_sha=sha or mr.head_sha,
            review_state=ReviewState.APPROVED,
            actor=Actor(login=who),
            object_id=str(mr.number),
            updated_at=self.w.clock(),
        )
        self.handle(event)
        return event

    def checks(self, state: CommitState, context: str = "ci/test", *, send: bool = True) -> None:
        sha = self.head()
        self.w.forge.checks[sha] = [CommitStatus(sha=sha, state=state, context=context)]
        if send:
            self.handle(
                self.event(
                    EventKind.PIPELINE,
                    action=state.value,
                    head_ref="agentforge/issue-7",
                    head_sha=sha,
                    pipeline_status=state.value,
                    actor=Actor(login="github-actions[bot]", is_bot=True),
                )
            )

    def review(self, who: str = "bob", sha: str | None = None) -> None:
        number = self.mr_number()
        self.w.forge.reviews.setdefault(number, []).append(
            Review(
                id=str(len(self.w.forge.reviews[number]) + 1),
                author=User(login=who),
                state="approved",
                commit_id=sha or self.head(),
            )
        )
        self.handle(
            self.event(
                EventKind.MR_REVIEW,
                action="submitted",
                event_name="pull_request_review",
                number=number,
                is_mr=True,
                review_state=ReviewState.APPROVED,
                actor=Actor(login=who),
            )
        )

    def human_push(self) -> None:
        self.w.forge.human_push("agentforge/issue-7", "app/fix.py", "x = 1\n")
        self.handle(
            self.event(
                EventKind.PUSH,
                action="pushed",
                head_ref="agentforge/issue-7",
                ref="refs/heads/agentforge/issue-7",
                head_sha=self.head(),
                actor=Actor(login="dana"),
            )
        )

    # --- reading -----------------------------------------------------------------------

    def mr_number(self) -> int | None:
        mrs = self.w.forge.list_mrs(REPO, state="all", head="agentforge/issue-7")
        return mrs[0].number if mrs else None

    def head(self) -> str:
        return self.w.forge.branches["agentforge/issue-7"][-1].sha

    def run(self) -> RunData:
        record = self.w.runs.active_for_issue(self.forge, REPO, 7) or self.w.runs.latest_for_issue(
            self.forge, REPO, 7
        )
        assert record is not None
        return RunData.from_data(record.data)

    def record(self):
        return self.w.runs.latest_for_issue(self.forge, REPO, 7)

    def status_comments(self):
        return [
            c
            for c in self.w.forge.comments[7]
            if c.author.login == BOT and "agentforge:status." in c.body
        ]

    def marker_state(self) -> RunData | None:
        (comment,) = self.status_comments()
        return decode_marker(comment.body)

    def bot_replies(self, number: int | None = None, *, is_mr: bool = False):
        store = self.w.forge.mr_comments if is_mr else self.w.forge.comments
        return [
            c
            for c in store.get(number if number is not None else 7, [])
            if c.author.login == BOT and "agentforge:status." not in c.body
        ]

    def phase_states(self) -> list[str]:
        return [p.state for p in self.run().phases]

    def status_posts(self) -> list[PostComment]:
        return [
            a for a in self.w.sink.of(PostComment) if (a.marker_key or "").startswith("status.")
        ]


def bot(config: AgentForgeConfig | None = None, *, forge: str = "github") -> Bot:
    """A fresh bot over a fresh world."""
    return Bot(world(config, forge=forge), forge=forge)
