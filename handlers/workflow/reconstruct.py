"""Rebuild a run's state from the forge alone (a bot restarted with an empty data dir).

The forge holds everything a run needs:

1. the state marker at the end of the bot's status comment on the issue — counted
   **only** in comments whose author is the bot (``services.bot_login``); a marker a
   person typed (or copied) into their own comment is ignored, and with no known bot
   login nothing is trusted at all;
2. the open MR for the run's deterministic branch (``agentforge/issue-<N>``);
3. the branch's commits and their ``Agentforge-Run/Phase/Role/Round`` trailers, which
   fill in a push that landed after the marker was last written (so the phase is not
   worked and committed a second time).

The rebuilt run is written to the run store under its original id, so the next step
continues where the old process stopped: the next phase, on the same branch, MR and
status comment.
"""

from __future__ import annotations

from bot.errors import Conflict
from handlers.services import RunRecord, Services
from handlers.workflow.engine import branch_for
from handlers.workflow.state import RunData, decode_marker
from handlers.workflow.status import STATUS_MARKER_PREFIX
from handlers.workflow.work import commits_of


def from_forge(services: Services, repo: str, issue: int) -> RunData | None:
    """The newest run state the bot left on ``issue``, brought up to date, or None."""
    bot = (services.bot_login or "").lower()
    if not bot:
        return None
    found: RunData | None = None
    comment_id: str | None = None
    for comment in services.forge.list_comments(repo, issue):
        if comment.author.login.lower() != bot:
            continue
        if f"agentforge:{STATUS_MARKER_PREFIX}" not in comment.body:
            continue
        data = decode_marker(comment.body)
        if data is None or data.repo != repo or data.issue != issue:
            continue
        if data.branch != branch_for(issue):
            continue  # a run is only ever on its issue's branch
        found, comment_id = data, comment.id
    if found is None:
        return None
    found.status_comment_id = comment_id
    for phase in found.phases:
        # Claims belong to the jobs of the store that was lost: no job of it is alive to
        # finish its phase, so the next job here takes the phase over.
        phase.claim = None
    _attach_mr(services, found)
    _attach_commits(services, found)
    return found


def _attach_mr(services: Services, data: RunData) -> None:
    for mr in services.forge.list_mrs(data.repo, state="open", head=data.branch):
        if mr.head_ref == data.branch and mr.base_ref == data.base:
            data.mr, data.mr_url = mr.number, mr.url
            return


def _attach_commits(services: Services, data: RunData) -> None:
    commits = services.repo.branch_commits(data.repo, data.branch, data.base)
    phase = data.phase
    if phase is None or phase.state != "running":
        return
    # Only the phase the marker says was running may be filled in from trailers: a
    # commit with made-up trailers can never mark another phase done.
    shas = commits_of(data, phase, commits)
    if shas:
        phase.result = phase.pushed = True
        phase.commits += [s for s in shas if s not in phase.commits]
        phase.head_sha = shas[-1]


def restore(services: Services, data: RunData) -> RunRecord | None:
    """Write a rebuilt run to the run store (None if another job restored it first)."""
    state = data.outcome or (
        "waiting" if data.phase is not None and data.phase.state == "needs_approval" else "running"
    )
    try:
        record = services.runs.create(
            run_id=data.run_id,
            forge=data.forge,
            repo=data.repo,
            issue_number=data.issue,
            state=state,
            phase=(data.phase or data.phases[-1]).name,
            branch=data.branch,
            data=data.to_data(),
        )
    except Conflict:
        return None
    if data.mr is not None:
        record = (
            services.runs.compare_and_set(record.id, record.version, mr_number=data.mr) or record
        )
    return record
