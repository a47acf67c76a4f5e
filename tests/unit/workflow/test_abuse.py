"""Loops and abuse: other bots, rate limits on new runs, throttled refusals, ok-to-run.

The limit ledger is the real DuckDB one (:class:`bot.limits_store.DuckDBLimitLedger`),
on a database file, so a "restart" (a new database object on the same file) is tested
as what it is.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.actions import PostComment
from bot.errors import Unavailable
from bot.events import Actor, EventKind
from bot.forge import Permission, markers_in
from bot.limits_store import DuckDBLimitLedger
from bot.repoconfig import AgentForgeConfig, RepoConfig
from bot.repoconfig.abuse import BotsConfig, LimitsConfig
from bot.store.db import Database
from tests.unit.workflow.fakes import BOT, REPO
from tests.unit.workflow.support import Bot, all_human, bot


def config(**sections) -> AgentForgeConfig:
    return all_human().model_copy(update={"config": RepoConfig(**sections)})


@pytest.fixture
def db(tmp_path):
    database = Database.open(tmp_path / "data")
    yield database
    database.close()


def with_ledger(b: Bot, db: Database) -> Bot:
    services = b.w.services
    ledger = DuckDBLimitLedger(db)
    b.w.services = lambda: dataclasses.replace(services(), limits=ledger)  # type: ignore[method-assign]
    return b


def open_issue(b: Bot, number: int, author: str = "erin") -> None:
    b.w.forge.add_issue(number, f"Issue {number}", "please", author)


def label(b: Bot, number: int, who: str = "erin") -> None:
    b.handle(
        b.event(
            EventKind.ISSUE,
            action="labeled",
            number=number,
            label="agentforge",
            labels=["agentforge"],
            state="open",
            actor=Actor(login=who),
            delivery_id=f"d-label-{number}-{who}",
        )
    )


def runs_started(b: Bot) -> int:
    return len(b.w.runs.list_runs(forge="github", repo=REPO))


def bot_comments(b: Bot, number: int, key_prefix: str) -> list:
    return [
        c
        for c in b.w.forge.comments.get(number, [])
        if c.author.login == BOT and any(k.startswith(key_prefix) for k in markers_in(c.body))
    ]


# --- the bot's own events and other bots ------------------------------------------------


def test_the_bots_own_comment_with_approve_inside_never_passes_a_gate():
    b = bot(all_human())
    b.label()
    assert b.phase_states()[0] == "needs_approval"
    # The bot's login with a personal token: an ordinary user, not a [bot] account.
    b.comment("Agent summary:\n/approve\n/agentforge approve", who=BOT, is_bot=False)
    b.comment("/approve", who=BOT.upper(), is_bot=False)  # logins are case-insensitive
    assert b.phase_states()[0] == "needs_approval"
    assert b.run().approvals == []


def test_an_agent_written_status_comment_is_not_a_command():
    b = bot(all_human())
    b.label()
    (status,) = b.status_comments()
    # The status comment lists `/approve` among the commands that work now; replayed as
    # an event (the forge sends one for the bot's own comment) it does nothing.
    assert "/approve" in status.body
    event = b.event(
        EventKind.ISSUE_COMMENT,
        action="created",
        number=7,
        comment=status.body,
        comment_id=status.id,
        actor=Actor(login=BOT),
    )
    b.handle(event)
    assert b.run().approvals == []


@pytest.mark.parametrize("login", ["dependabot[bot]", "project_12_bot_4f2a", "ci-helper"])
def test_other_bots_are_ignored(login):
    b = bot(all_human())
    b.w.forge.permissions[login] = Permission.ADMIN
    b.label()
    b.comment("/approve", who=login, is_bot=True)
    assert b.run().approvals == []
    assert not [c for c in b.w.forge.comments[7] if "refused" in c.body]


def test_an_allowlisted_bot_is_handled_like_a_person():
    b = bot(config(bots=BotsConfig(allow=["Renovate[bot]"])))
    b.w.forge.permissions["renovate[bot]"] = Permission.WRITE
    b.label()
    b.comment("/approve", who="renovate[bot]", is_bot=True)
    assert len(b.run().approvals) == 1
    # Another bot is still ignored; and the allowlist never makes the bot itself count.
    b.comment("/approve", who="dependabot[bot]", is_bot=True)
    assert len(b.run().approvals) == 1


def test_an_allowlisted_bot_still_needs_the_permission_it_asks_for():
    b = bot(config(bots=BotsConfig(allow=["renovate[bot]"])))
    b.label()
    b.comment("/approve", who="renovate[bot]", is_bot=True)
    assert b.run().approvals == []


def test_the_bots_allowlist_refuses_bad_logins():
    with pytest.raises(ValueError):
        BotsConfig(allow=["two words"])


# --- rate limits on new runs ------------------------------------------------------------


def test_the_per_actor_limit_refuses_a_run_and_says_when_to_retry(db):
    b = with_ledger(bot(config(limits=LimitsConfig(runs_per_actor=2, runs_per_repo=10))), db)
    for n in (8, 9, 10):
        open_issue(b, n)
        label(b, n)
    assert runs_started(b) == 2
    (reply,) = bot_comments(b, 10, "limit.")
    assert "limits.runs_per_actor" in reply.body and "UTC" in reply.body
    assert "2 run(s) in the last 60 minutes" in reply.body
    # The same refused start redelivered: the one reply is kept, not reposted.
    label(b, 10)
    assert len(bot_comments(b, 10, "limit.")) == 1 and runs_started(b) == 2
    # Someone else may still start one; after the window the first actor may too.
    b.w.forge.permissions["frank"] = Permission.TRIAGE
    open_issue(b, 11, "frank")
    label(b, 11, who="frank")
    assert runs_started(b) == 3
    b.w.clock.t += timedelta(minutes=61)
    label(b, 10)
    assert runs_started(b) == 4


def test_the_per_repo_limit_counts_every_starter(db):
    b = with_ledger(bot(config(limits=LimitsConfig(runs_per_actor=0, runs_per_repo=2))), db)
    for n, who in ((8, "erin"), (9, "alice"), (10, "bob")):
        open_issue(b, n, who)
        label(b, n, who=who)
    assert runs_started(b) == 2
    (reply,) = bot_comments(b, 10, "limit.")
    assert "limits.runs_per_repo" in reply.body


def test_limits_survive_a_restart(tmp_path):
    limits = config(limits=LimitsConfig(runs_per_actor=1))
    first = Database.open(tmp_path / "data")
    b = with_ledger(bot(limits), first)
    open_issue(b, 8)
    label(b, 8)
    assert runs_started(b) == 1
    first.close()
    again = Database.open(tmp_path / "data")  # the bot restarted
    try:
        b2 = with_ledger(bot(limits), again)
        open_issue(b2, 9)
        label(b2, 9)
        assert runs_started(b2) == 0
        assert len(bot_comments(b2, 9, "limit.")) == 1
    finally:
        again.close()


def test_resuming_an_active_run_is_never_limited(db):
    b = with_ledger(bot(config(limits=LimitsConfig(runs_per_actor=1))), db)
    b.label()
    b.label()  # the same issue again: a resume, not a new run
    assert runs_started(b) == 1
    assert bot_comments(b, 7, "limit.") == []


def test_zero_turns_a_limit_off(db):
    b = with_ledger(bot(config(limits=LimitsConfig(runs_per_actor=0, runs_per_repo=0))), db)
    for n in range(8, 14):
        open_issue(b, n)
        label(b, n)
    assert runs_started(b) == 6


def test_limit_values_are_checked():
    with pytest.raises(ValueError):
        LimitsConfig(runs_per_repo=-1)
    with pytest.raises(ValueError):
        LimitsConfig(window_minutes=0)


# --- refusal replies throttled ----------------------------------------------------------


def test_refusals_get_one_reply_per_actor_per_issue_per_hour(db):
    b = with_ledger(bot(all_human()), db)
    b.label()
    for _ in range(5):
        b.comment("/approve", who="mallory")
    refusals = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "only approvers" in c.body
    ]
    assert len(refusals) == 1
    # Another person's refusal is answered; the same person on another issue too.
    b.w.forge.permissions["oscar"] = Permission.READ
    b.comment("/approve", who="oscar")
    refusals = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "only approvers" in c.body
    ]
    assert len(refusals) == 2
    # An hour later mallory is answered again.
    b.w.clock.t += timedelta(minutes=61)
    b.comment("/reject no", who="mallory")
    refusals = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "only approvers" in c.body
    ]
    assert len(refusals) == 3
    assert b.run().approvals == []


def test_unknown_commands_are_throttled_like_refusals(db):
    b = with_ledger(bot(all_human()), db)
    b.label()
    for _ in range(4):
        b.comment("/agentforge frobnicate", who="mallory")
    helps = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "not an AgentForge" in c.body
    ]
    assert len(helps) == 1


def test_a_refusal_whose_reply_failed_is_answered_on_retry(db):
    b = with_ledger(bot(all_human()), db)
    b.label()
    sink = b.w.sink
    real = sink.apply

    def failing(actions):
        if any(isinstance(a, PostComment) and "only approvers" in a.body for a in actions):
            raise Unavailable("forge down")
        return real(actions)

    sink.apply = failing  # type: ignore[method-assign]
    event = b.comment("/approve", who="mallory", send=False)
    with pytest.raises(Unavailable):
        b.handle(event)
    sink.apply = real  # type: ignore[method-assign]
    b.handle(event)  # the queue's retry
    refusals = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "only approvers" in c.body
    ]
    assert len(refusals) == 1


def test_refusal_window_zero_answers_every_refusal(db):
    b = with_ledger(bot(config(limits=LimitsConfig(refusal_reply_minutes=0))), db)
    b.label()
    for _ in range(3):
        b.comment("/approve", who="mallory")
    refusals = [
        c for c in b.w.forge.comments[7] if c.author.login == BOT and "only approvers" in c.body
    ]
    assert len(refusals) == 3


# --- untrusted starters wait for /agentforge ok-to-run ----------------------------------


def test_an_untrusted_starter_waits_for_ok_to_run_then_the_run_starts(db):
    b = with_ledger(bot(all_human()), db)
    open_issue(b, 8, "mallory")  # read permission: below triage
    label(b, 8, who="mallory")
    label(b, 8, who="mallory")  # asked twice: one reply
    assert runs_started(b) == 0
    (wait,) = bot_comments(b, 8, "ok-to-run.wait.")
    assert "/agentforge ok-to-run" in wait.body
    # mallory cannot let her own run through, nor can another untrusted person.
    made = b.w.forge.human_comment(8, "mallory", "/agentforge ok-to-run")
    b.handle(
        b.event(
            EventKind.ISSUE_COMMENT,
            action="created",
            number=8,
            comment=made.body,
            comment_id=made.id,
            actor=Actor(login="mallory"),
        )
    )
    assert runs_started(b) == 0
    made = b.w.forge.human_comment(8, "alice", "/agentforge ok-to-run")
    b.handle(
        b.event(
            EventKind.ISSUE_COMMENT,
            action="created",
            number=8,
            comment=made.body,
            comment_id=made.id,
            actor=Actor(login="alice"),
        )
    )
    (record,) = b.w.runs.list_runs(forge="github", repo=REPO)
    assert record.issue_number == 8
    assert record.data["started_by"] == "mallory"
    assert record.data["trigger"] == "ok-to-run"


def test_a_failed_permission_lookup_is_not_trust(db):
    b = with_ledger(bot(all_human()), db)

    def broken(repo, login):
        raise Unavailable("permission API down")

    b.w.forge.get_permission = broken  # type: ignore[method-assign]
    open_issue(b, 8, "erin")
    label(b, 8, who="erin")
    assert runs_started(b) == 0
    assert len(bot_comments(b, 8, "ok-to-run.wait.")) == 1


def test_ok_to_run_is_in_the_help_table():
    from handlers.workflow.commands_table import COMMANDS
    from handlers.workflow.talk import help_text

    assert COMMANDS["ok-to-run"].bare is False
    assert "/agentforge ok-to-run" in help_text(None)
