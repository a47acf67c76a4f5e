"""The steps inside a running phase: run the role, record its result, push, open the MR.

A mixin of :class:`handlers.workflow.engine.Engine` (it uses the engine's services,
``transition`` and ``fail``); kept apart so each file holds one concern.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agents.roles.contract import RoleProgress, RoleResult
from bot.actions import FileChange, OpenMR, UpdateMR
from handlers.services import RunRecord
from handlers.workflow import mr as mr_text
from handlers.workflow.infra_hold import INFRA
from handlers.workflow.state import PhaseRun, RunData, Usage
from handlers.workflow.work import build_task, commits_of, push_action

if TYPE_CHECKING:
    from handlers.workflow.engine import Engine

log = logging.getLogger(__name__)


class PhaseSteps:
    """Running a role and landing its work (see the engine's docstring)."""

    # --- running a role ------------------------------------------------------------------

    def _run_role(self: Engine, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord:
        cfg = self.config.workflow.phase(phase.name)
        issue = self.s.forge.get_issue(data.repo, data.issue)
        task = build_task(
            data,
            phase,
            outputs=list(cfg.outputs) if cfg else [],
            issue=issue,
            forge=self.s.forge,
            reader=self.s.repo,
            bot_login=self.s.bot_login,
            workflow=self.config.workflow,
        )
        ref = data.branch if data.commits else data.base
        result = self.s.roles.run(task, config=self.config, ref=ref, progress=self._progress(data))
        return self._record_result(record, phase.name, result)

    def _progress(self: Engine, data: RunData) -> Callable[[RoleProgress], None]:
        last = [self.now()]
        name = data.phase.name if data.phase is not None else None

        def report(progress: RoleProgress) -> None:
            self.s.heartbeat()
            # One line per model step and tool call, so a running role can be followed
            # from the log (`agentforge demo` shows these records live).
            log.info(
                "role progress: %s step %d %s: %s",
                progress.role,
                progress.step,
                progress.kind,
                progress.text,
                extra={"role_progress": progress, "run_id": data.run_id, "phase": name},
            )
            now = self.now()
            if (now - last[0]).total_seconds() < self.status_interval:
                return
            last[0] = now
            live = data.model_copy(deep=True)
            if live.phase is not None:
                live.phase.usage = _usage(progress.usage)
            self._publish_data(live)

        return report

    def _record_result(self: Engine, record: RunRecord, name: str, result: RoleResult) -> RunRecord:
        if result.status != "completed":
            return self._role_failed(record, name, result)

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or phase.result:
                return False
            phase.result = True
            phase.summary = result.summary
            phase.confidence = result.confidence
            phase.covered = dict(result.covered)
            phase.questions = list(result.questions)
            phase.usage = phase.usage.plus(_usage(result.usage))
            phase.artifacts = sorted({c.path for c in result.changes if c.content is not None})
            for change_ in result.changes:
                if change_.content:
                    for ac, text in mr_text.find_criteria(change_.content).items():
                        data.criteria.setdefault(ac, text)
            extra["pending"] = {
                "phase": name,
                "round": phase.round,
                "changes": [c.model_dump() for c in result.changes],
            }
            return True

        # The marker gets the result before the push: if the process dies after the
        # commit landed, a run rebuilt from the forge alone still has the phase's
        # summary, confidence and covered criteria (an ``auto`` gate needs them).
        return self.publish(self.transition(record, change)[0])

    def _role_failed(self: Engine, record: RunRecord, name: str, result: RoleResult) -> RunRecord:
        if result.status == "needs_human":
            why = (
                f"The {result.role} role needs answers before it can go on. Answer the "
                "questions below in a comment, then start the phase again."
            )
        else:
            why = f"The {result.role} role could not finish: {result.error or 'no reason given'}."

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name:
                return False
            phase.questions = list(result.questions)
            phase.usage = phase.usage.plus(_usage(result.usage))
            phase.error = why
            return True

        return self.fail(self.transition(record, change)[0], why)

    # --- pushing and the MR --------------------------------------------------------------

    def _push(self: Engine, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord:
        fresh = self.s.runs.get(record.id)
        if fresh is None or fresh.terminal or fresh.version != record.version:
            return fresh or record  # cancelled (or moved on) meanwhile: no more commits
        pending = record.data.get("pending") or {}
        changes = [FileChange.model_validate(c) for c in pending.get("changes", [])]
        if pending.get("phase") != phase.name or pending.get("round") != phase.round:
            # The change set is gone (the run was rebuilt from the forge): if its commit
            # landed the trailers say so; otherwise the role has to work again.
            landed = commits_of(
                data, phase, self.s.repo.branch_commits(data.repo, data.branch, data.base)
            )
            if landed:
                return self._pushed(record, phase.name, landed)
            return self._rework(record, phase.name)
        if not changes:
            return self._pushed(record, phase.name, [])  # the role changed no file
        (result,) = self.s.actions.apply([push_action(data, phase, changes)])
        if result.status == "pending":
            # The policies hold the push (CI or deployment files wait for
            # approvers.infra): the phase waits for that approval, the change set kept.
            released = self.infra_releasers(data, phase, self.head_sha(data))
            if released:
                # Released, yet still held: waiting again would loop; say why instead.
                who = ", ".join(f"@{r}" for r in released)
                return self.fail(
                    record,
                    f"The {phase.name} phase's push was released by {who} but the policies "
                    f"still hold it: {result.detail}",
                )
            return self._hold_push(record, phase.name, result.detail)
        if not result.landed:
            return self.fail(
                record, f"The {phase.name} phase's commit was not pushed: {result.detail}"
            )
        shas: list[str] = []
        if result.status == "applied" and result.result.get("sha"):
            shas = [result.result["sha"]]
        else:
            # Already there (a retry after a crash): find the commit by its trailers.
            shas = commits_of(
                data, phase, self.s.repo.branch_commits(data.repo, data.branch, data.base)
            )
        return self._pushed(record, phase.name, shas)

    def _hold_push(self: Engine, record: RunRecord, name: str, why: str) -> RunRecord:
        """Wait for an infrastructure approver before pushing (see :mod:`.infra_hold`)."""
        head = self.head_sha(self.data(record))
        infra = ", ".join(f"@{a}" for a in self.config.config.approvers.infra) or "no one"
        infra += " (approvers.infra)"
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or phase.state != "running" or phase.pushed:
                return False
            phase.state = "needs_approval"
            phase.claim = None
            phase.head_sha = head
            phase.waiting_since = now
            phase.awaiting = [INFRA]
            phase.pending = [f"`/approve` by one of {infra} to push it: {why}"]
            phase.hold = None
            return True

        updated, won = self.transition(record, change)
        return self.publish(updated) if won else updated

    def _rework(self: Engine, record: RunRecord, name: str) -> RunRecord:
        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or not phase.result or phase.pushed:
                return False
            phase.result = False
            return True

        return self.transition(record, change)[0]

    def _pushed(self: Engine, record: RunRecord, name: str, shas: list[str]) -> RunRecord:
        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or phase.pushed:
                return False
            phase.pushed = True
            phase.commits += [s for s in shas if s not in phase.commits]
            if shas:
                phase.head_sha = shas[-1]
            extra.pop("pending", None)
            return True

        return self.transition(record, change)[0]

    def _open_mr(self: Engine, record: RunRecord, data: RunData) -> RunRecord:
        issue = self.s.forge.get_issue(data.repo, data.issue)
        action = OpenMR(
            repo=data.repo,
            head=data.branch,
            base=data.base,
            title=mr_text.title(data.issue, issue.title),
            body=mr_text.body(data, html_url=self.repo.html_url),
            draft=True,
            reason=f"run {data.run_id}: the draft MR for #{data.issue}",
        )
        (result,) = self.s.actions.apply([action])
        number = result.result.get("number") if result.landed else None
        if number is None:
            why = f"The draft merge request could not be opened: {result.detail}"
            return self.fail(record, why)

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            if data.mr is not None:
                return False
            data.mr, data.mr_url = int(number), result.result.get("url")
            return True

        return self.transition(record, change)[0]

    def _update_mr(self: Engine, data: RunData) -> None:
        if data.mr is None:
            return
        self.s.actions.apply(
            [
                UpdateMR(
                    repo=data.repo,
                    number=data.mr,
                    body=mr_text.body(data, html_url=self.repo.html_url),
                    reason=f"run {data.run_id}: keep the description current",
                )
            ]
        )


def _usage(usage: Any) -> Usage:
    return Usage(
        calls=usage.calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=usage.cost_usd,
        seconds=usage.seconds,
    )
