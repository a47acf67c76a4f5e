"""The reconcile sweep (events missed while the bot was down) and the watchdog."""

from __future__ import annotations

from datetime import timedelta

from bot.events import Actor, EventKind
from bot.jobs.reconcile import RECONCILE_EVENT, SWEEPER
from bot.repoconfig.schema import WatchdogConfig
from tests.unit.workflow.support import all_human, bot


def _sweep(b) -> None:
    b.handle(
        b.event(
            EventKind.RECONCILE,
            action="sweep",
            event_name=RECONCILE_EVENT,
            actor=Actor(login=SWEEPER, is_bot=True),
            delivery_id="reconcile-1",
        )
    )


def test_a_comment_made_while_the_bot_was_down_is_handled_by_the_sweep_once():
    b = bot(all_human())
    b.label()
    assert b.run().phase.name == "discovery"
    # The bot is down: the comment reaches the forge, its webhook never reaches us.
    b.comment("/approve", on_mr=True, send=False)
    b.comment("/status", who="mallory", send=False)
    b.comment("just saying thanks", who="erin", send=False)
    _sweep(b)
    assert b.run().phase.name == "design"
    replies = [c for c in b.bot_replies() if "**Run**" in c.body]
    assert len(replies) == 1, "the missed /status got its answer"
    tasks = len(b.w.roles.tasks)
    version = b.record().version
    _sweep(b)  # once only: a second sweep finds nothing new
    assert b.run().phase.name == "design" and len(b.w.roles.tasks) == tasks
    assert b.record().version == version
    assert len([c for c in b.bot_replies() if "**Run**" in c.body]) == 1


def test_a_comment_the_webhook_delivered_is_not_handled_again_by_the_sweep():
    b = bot(all_human())
    b.label()
    b.approve()
    assert b.run().phase.name == "design"
    _sweep(b)
    assert b.run().phase.name == "design"


def test_a_missed_label_starts_the_run():
    b = bot(all_human())
    issue = b.w.forge.issues[7]
    b.w.forge.issues[7] = issue.model_copy(update={"labels": ["agentforge"]})
    _sweep(b)
    assert b.run().phase.name == "discovery" and len(b.status_comments()) == 1
    _sweep(b)
    assert len(b.w.roles.tasks) == 1 and len(b.w.runs.runs) == 1


def test_the_watchdog_fails_a_stuck_run_and_says_so():
    b = bot(all_human())
    b.w.roles.results["analyst"] = []
    b.label()
    record = b.record()
    # A job claimed the phase and died: the run stays "running" with no progress.
    data = record.data | {}
    data["phases"][0].update(state="running", result=False, pushed=False)
    data["phases"][0]["claim"] = {"job": "dead-job", "at": b.w.clock().isoformat()}
    stuck = b.w.runs.compare_and_set(record.id, record.version, state="running", data=data)
    assert stuck is not None
    _sweep(b)  # not stuck yet
    assert b.record().state == "running"
    b.w.clock.t += timedelta(hours=3)
    _sweep(b)
    assert b.record().state == "failed"
    assert "no progress" in (b.run().error or "")
    notes = [c for c in b.bot_replies() if "watchdog" in c.body]
    assert len(notes) == 1 and "/retry" in notes[0].body
    (status,) = b.status_comments()
    assert "failed" in status.body
    _sweep(b)
    assert len([c for c in b.bot_replies() if "watchdog" in c.body]) == 1
    b.comment("/retry")
    assert b.run().phase.state == "needs_approval"


def test_the_watchdog_leaves_a_run_alone_while_its_work_is_in_flight():
    config = all_human()
    config = config.model_copy(
        update={"config": config.config.model_copy(update={"watchdog": WatchdogConfig(
            stuck_after_minutes=10
        )})}
    )  # fmt: skip
    b = bot(config)
    b.w.roles.results["analyst"] = []
    b.label()
    record = b.record()
    data = record.data | {}
    data["phases"][0].update(state="running", result=False, pushed=False)
    data["phases"][0]["claim"] = {"job": "slow-job", "at": b.w.clock().isoformat()}
    assert b.w.runs.compare_and_set(record.id, record.version, state="running", data=data)
    # The role runs longer than the limit (within the claim's takeover time), but its
    # job's lease is renewed.
    b.w.jobs.busy.add(7)
    b.w.clock.t += timedelta(minutes=30)
    _sweep(b)
    assert b.record().state == "running"
    assert (b.w.forge.name, b.record().repo, 7) in b.w.jobs.asked
    assert not [c for c in b.bot_replies() if "watchdog" in c.body]
    # The job died and its lease ran out: now the run is stuck.
    b.w.jobs.busy.clear()
    _sweep(b)
    assert b.record().state == "failed"
    assert len([c for c in b.bot_replies() if "watchdog" in c.body]) == 1
