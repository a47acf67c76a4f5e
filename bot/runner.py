"""The CI runner: handle the one event a GitHub Actions or GitLab CI job was started for.

A CI job is already durable (the forge retries and shows it), so there is no server and
no queue here: read the event from the job's environment, parse it with the same
parsers as the webhook server, skip it if the data directory has seen it, run the same
dispatcher + executor path in-process, and return a JSON-able summary.

Where the event comes from::

    GitHub Actions   GITHUB_EVENT_NAME + the JSON file at GITHUB_EVENT_PATH
                     workflow_dispatch from the server (inputs event + signature)
                                                 → the event it dispatched (bot.jobs.dispatched)
    GitLab CI        CI_PIPELINE_SOURCE=trigger  → the webhook body in the file TRIGGER_PAYLOAD,
                                   or the AGENTFORGE_EVENT the server triggered it with
                     CI_PIPELINE_SOURCE=merge_request_event → an MR event built from CI_*
                     CI_PIPELINE_SOURCE=push     → a push event built from CI_COMMIT_*
    flags            --forge, --event, --payload FILE override all of the above

Credentials: ``AGENTFORGE_GITHUB_TOKEN`` (else ``GITHUB_TOKEN``) and ``GITHUB_API_URL``;
``AGENTFORGE_GITLAB_TOKEN`` and ``CI_API_V4_URL`` (the job token cannot write notes, so
GitLab needs a project or bot token).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import SettingsError
from bot.events import Event, EventKind
from bot.intake.access import repo_allowed
from bot.jobs import dispatched
from bot.settings import Settings, load_settings
from bot.store.db import Database

GITHUB_ENV = (
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
)
GITLAB_ENV = (
    "GITLAB_CI",
    "CI_PIPELINE_SOURCE",
    "CI_PIPELINE_ID",
    "CI_PIPELINE_CREATED_AT",
    "TRIGGER_PAYLOAD",
    "CI_API_V4_URL",
    "CI_PROJECT_ID",
    "CI_PROJECT_PATH",
    "CI_PROJECT_URL",
    "CI_DEFAULT_BRANCH",
    "CI_MERGE_REQUEST_IID",
    "CI_MERGE_REQUEST_ID",
    "CI_MERGE_REQUEST_TITLE",
    "CI_MERGE_REQUEST_DESCRIPTION",
    "CI_MERGE_REQUEST_LABELS",
    "CI_MERGE_REQUEST_DRAFT",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "CI_COMMIT_SHA",
    "CI_COMMIT_BEFORE_SHA",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_TAG",
    "GITLAB_USER_LOGIN",
    "GITLAB_USER_ID",
    "GITLAB_USER_NAME",
)
AGENTFORGE_ENV = (
    "AGENTFORGE_GITHUB_TOKEN",
    "AGENTFORGE_GITHUB_URL",
    "AGENTFORGE_GITLAB_TOKEN",
    "AGENTFORGE_GITLAB_URL",
    "AGENTFORGE_DATA_DIR",
    "AGENTFORGE_DISPATCH_SECRET",
    "AGENTFORGE_EVENT",
    "AGENTFORGE_EVENT_SIGNATURE",
    "AGENTFORGE_DISPATCH_ID",
)
PROVIDER_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
"""Model provider keys: not read here, but by the model layer the handlers run."""
READ_ENV = frozenset(GITHUB_ENV + GITLAB_ENV + AGENTFORGE_ENV + PROVIDER_ENV)
"""Every environment variable ``agentforge run`` reads (besides other ``AGENTFORGE_*``
settings); the GitHub Action and the GitLab CI template are tested against it."""

_GITLAB_HEADERS = {
    "issue": "Issue Hook",
    "work_item": "Issue Hook",
    "note": "Note Hook",
    "merge_request": "Merge Request Hook",
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
}
_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class CIEvent:
    """One delivery as the CI job received it.

    Attributes:
        forge: ``github`` or ``gitlab``.
        event_name: The webhook event name the body belongs to.
        body: The webhook body (raw bytes of the payload file, or built from CI_*).
        delivery_id: A stable id for this job's event (dedupe key), if known.
        expected_repo: The repository the CI job runs in, when the payload came from
            the job's environment (checked against the payload).
        ignored: Why there is nothing to handle (then the other fields are empty).
        source: Where the body was read from (``--payload event.json``), named in the
            error when it does not parse; None when it was built from CI_* variables.
        dispatched: The event text a server dispatched (``dispatch: {mode: ci}``) and
            its signature; then ``body`` is unused (see :mod:`bot.jobs.dispatched`).
    """

    forge: str
    event_name: str = ""
    body: bytes = b""
    delivery_id: str | None = None
    expected_repo: str | None = None
    ignored: str | None = None
    source: str | None = None
    dispatched: tuple[str, str] | None = None


def _require(env: Mapping[str, str], name: str, doing: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{doing}: the environment variable {name} is not set", variable=name)
    return value


def _read_payload(path: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"reading the event payload {path} (from {variable}): {exc.strerror or exc}",
            variable=variable,
        ) from None


def detect_forge(env: Mapping[str, str]) -> str | None:
    """``github`` inside GitHub Actions, ``gitlab`` inside GitLab CI, else None."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_EVENT_NAME"):
        return "github"
    if env.get("GITLAB_CI") == "true" or env.get("CI_PIPELINE_SOURCE"):
        return "gitlab"
    return None


def read_ci_event(
    env: Mapping[str, str],
    *,
    forge: str | None = None,
    event_name: str | None = None,
    payload: Path | None = None,
) -> CIEvent:
    """The event this CI job is for, from flags first, then the job's environment.

    Raises:
        SettingsError: not in a known CI and no ``forge`` given, a variable the event
            needs is unset (``variable`` names it), or the payload file is unreadable.
    """
    forge = forge or detect_forge(env)
    if forge is None:
        raise SettingsError(
            "cannot tell which CI this is: pass --forge, or run in GitHub Actions "
            "(GITHUB_EVENT_NAME set) or GitLab CI (CI_PIPELINE_SOURCE set)",
            variable="GITHUB_EVENT_NAME",
        )
    if forge == "github":
        return _github_event(env, event_name, payload)
    if forge == "gitlab":
        return _gitlab_event(env, event_name, payload)
    raise SettingsError(f"the CI runner handles github or gitlab events, not {forge!r}")


def _github_event(env: Mapping[str, str], event_name: str | None, payload: Path | None) -> CIEvent:
    doing = "reading the GitHub Actions event"
    name = event_name or _require(env, "GITHUB_EVENT_NAME", doing)
    if payload is not None:
        path, variable = str(payload), "--payload"
    else:
        path, variable = _require(env, "GITHUB_EVENT_PATH", doing), "GITHUB_EVENT_PATH"
    body = _read_payload(path, variable)
    run_id = env.get("GITHUB_RUN_ID", "").strip()
    if name == "workflow_dispatch":
        inputs = dispatched.workflow_dispatch_inputs(body)
        if inputs is not None:
            return CIEvent(
                forge="github",
                event_name=name,
                expected_repo=None if payload is not None else env.get("GITHUB_REPOSITORY") or None,
                source="the workflow_dispatch inputs",
                dispatched=inputs,
            )
    return CIEvent(
        forge="github",
        event_name=name,
        body=body,
        delivery_id=f"github-actions:{run_id}" if run_id else None,
        expected_repo=None if payload is not None else env.get("GITHUB_REPOSITORY") or None,
        source=_source(variable, path),
    )


def _source(variable: str, path: str) -> str:
    return f"the payload file {path} (from {variable})"


def _gitlab_event(env: Mapping[str, str], event_name: str | None, payload: Path | None) -> CIEvent:
    import json

    pipeline = env.get("CI_PIPELINE_ID", "").strip()
    delivery_id = f"gitlab-ci:{pipeline}" if pipeline else None
    expected = env.get("CI_PROJECT_PATH") or None
    if payload is not None:
        body, variable, expected = _read_payload(str(payload), "--payload"), "--payload", None
        path = str(payload)
    else:
        source = env.get("CI_PIPELINE_SOURCE", "").strip()
        if source == "trigger" and env.get("AGENTFORGE_EVENT", "").strip():
            # A pipeline the server triggered for one job (bot.jobs.ci_dispatch).
            signed = (env["AGENTFORGE_EVENT"], env.get("AGENTFORGE_EVENT_SIGNATURE", ""))
            return CIEvent(
                "gitlab",
                "trigger",
                delivery_id=delivery_id,
                expected_repo=expected,
                source="the pipeline's AGENTFORGE_EVENT variable",
                dispatched=signed,
            )
        if source == "merge_request_event":
            data = _gitlab_mr_payload(env)
        elif source == "push":
            data = _gitlab_push_payload(env)
        elif source in ("trigger", "pipeline") or env.get("TRIGGER_PAYLOAD"):
            path = _require(env, "TRIGGER_PAYLOAD", f"reading the {source} pipeline's webhook")
            body, variable = _read_payload(path, "TRIGGER_PAYLOAD"), "TRIGGER_PAYLOAD"
            data = None
        else:
            reason = f"GitLab pipeline source {source or '(unset)'!r} is not an event to handle"
            return CIEvent(forge="gitlab", ignored=reason)
        if data is not None:
            name = _GITLAB_HEADERS[data["object_kind"]]
            body = json.dumps(data).encode()
            return CIEvent("gitlab", event_name or name, body, delivery_id, expected)
    origin = _source(variable, path)
    name = event_name or _gitlab_header_of(body, origin, variable)
    return CIEvent("gitlab", name, body, delivery_id, expected, source=origin)


def _gitlab_header_of(body: bytes, source: str, variable: str) -> str:
    """The X-Gitlab-Event header GitLab would have sent with ``body`` (read from ``source``)."""
    from bot.errors import PayloadError
    from bot.parsers import decode_body

    try:
        kind = decode_body(body).get("object_kind")
    except PayloadError as exc:
        raise type(exc)(f"{source}: {exc}") from exc
    header = _GITLAB_HEADERS.get(kind) if isinstance(kind, str) else None
    if header is None:
        raise SettingsError(
            f"{source} has object_kind {kind!r}; pass --event "
            f'(e.g. "Note Hook") or one of: {", ".join(sorted(_GITLAB_HEADERS))}',
            variable=variable,
        )
    return header


def _gitlab_project(env: Mapping[str, str], doing: str) -> dict[str, Any]:
    path = _require(env, "CI_PROJECT_PATH", doing)
    web = env.get("CI_PROJECT_URL") or None
    return {
        "id": env.get("CI_PROJECT_ID") or None,
        "path_with_namespace": path,
        "web_url": web,
        "git_http_url": f"{web}.git" if web else None,
        "default_branch": env.get("CI_DEFAULT_BRANCH") or None,
    }


def _gitlab_user(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "username": env.get("GITLAB_USER_LOGIN", ""),
        "id": env.get("GITLAB_USER_ID") or None,
        "name": env.get("GITLAB_USER_NAME") or None,
    }


def _gitlab_mr_payload(env: Mapping[str, str]) -> dict[str, Any]:
    """The Merge Request Hook body an MR pipeline stands for (new commits on the MR)."""
    doing = "reading the merge request of this GitLab MR pipeline"
    iid = _require(env, "CI_MERGE_REQUEST_IID", doing)
    if not iid.isdigit():
        raise SettingsError(
            f"{doing}: CI_MERGE_REQUEST_IID is not a number", variable="CI_MERGE_REQUEST_IID"
        )
    project = _gitlab_project(env, doing)
    labels = [x.strip() for x in env.get("CI_MERGE_REQUEST_LABELS", "").split(",") if x.strip()]
    return {
        "object_kind": "merge_request",
        "user": _gitlab_user(env),
        "project": project,
        "labels": [{"title": label} for label in labels],
        "object_attributes": {
            "id": env.get("CI_MERGE_REQUEST_ID") or iid,
            "iid": int(iid),
            "title": env.get("CI_MERGE_REQUEST_TITLE", ""),
            "description": env.get("CI_MERGE_REQUEST_DESCRIPTION", ""),
            "state": "opened",
            # An MR pipeline runs because the MR's head moved: GitLab's "update" with
            # oldrev, which the parser reads as "updated".
            "action": "update",
            "oldrev": env.get("CI_COMMIT_BEFORE_SHA") or _ZERO_SHA,
            "source_branch": env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
            "target_branch": env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            "draft": env.get("CI_MERGE_REQUEST_DRAFT") == "true",
            "last_commit": {"id": env.get("CI_COMMIT_SHA")},
            "url": f"{project['web_url']}/-/merge_requests/{iid}" if project["web_url"] else None,
            "updated_at": env.get("CI_PIPELINE_CREATED_AT") or None,
        },
    }


def _gitlab_push_payload(env: Mapping[str, str]) -> dict[str, Any]:
    """The Push Hook (or Tag Push Hook) body a push pipeline stands for."""
    doing = "reading the push of this GitLab pipeline"
    after = _require(env, "CI_COMMIT_SHA", doing)
    tag = env.get("CI_COMMIT_TAG", "").strip()
    ref = f"refs/tags/{tag}" if tag else f"refs/heads/{_require(env, 'CI_COMMIT_REF_NAME', doing)}"
    user = _gitlab_user(env)
    return {
        "object_kind": "tag_push" if tag else "push",
        "ref": ref,
        "before": env.get("CI_COMMIT_BEFORE_SHA") or _ZERO_SHA,
        "after": after,
        "user_username": user["username"],
        "user_id": user["id"],
        "user_name": user["name"],
        "project": _gitlab_project(env, doing),
        "commits": [],
    }


# --- settings, dedupe, run ------------------------------------------------------------


def ci_settings(env: Mapping[str, str], *, data_dir: Path | None = None) -> Settings:
    """Process settings with the CI job's credentials and API URLs filled in.

    ``AGENTFORGE_*`` variables win; ``GITHUB_TOKEN``, ``GITHUB_API_URL`` and
    ``CI_API_V4_URL`` fill what they leave unset. Empty values count as unset.
    """
    overrides: dict[str, Any] = {}
    github_token = env.get("AGENTFORGE_GITHUB_TOKEN") or env.get("GITHUB_TOKEN")
    overrides["github_token"] = github_token or None
    overrides["gitlab_token"] = env.get("AGENTFORGE_GITLAB_TOKEN") or None
    if env.get("AGENTFORGE_DISPATCH_SECRET"):
        overrides["dispatch_secret"] = env["AGENTFORGE_DISPATCH_SECRET"]
    if not env.get("AGENTFORGE_GITHUB_URL") and env.get("GITHUB_API_URL"):
        overrides["github_url"] = env["GITHUB_API_URL"]
    api_v4 = env.get("CI_API_V4_URL", "").rstrip("/")
    if not env.get("AGENTFORGE_GITLAB_URL") and api_v4.endswith("/api/v4"):
        overrides["gitlab_url"] = api_v4[: -len("/api/v4")]
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    elif "AGENTFORGE_DATA_DIR" in env and not env["AGENTFORGE_DATA_DIR"].strip():
        # An Action input left empty arrives as "": that means "the default".
        overrides["data_dir"] = Settings.model_fields["data_dir"].default
    return load_settings(**overrides)


def _seen(db: Database, forge: str, delivery_id: str | None, content_key: str) -> bool:
    key = f"{forge}:{delivery_id}" if delivery_id else None
    row = db.fetchone(
        "SELECT 1 FROM deliveries WHERE delivery_key = ? OR content_key = ? LIMIT 1",
        [key, content_key],
    )
    return row is not None


def _remember(db: Database, ci: CIEvent, event: Event) -> None:
    delivery_id = ci.delivery_id or f"ci:{event.content_key()[:32]}"
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO deliveries (delivery_key, content_key, forge, delivery_id, event_name,"
            " repo, kind, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                f"{ci.forge}:{delivery_id}",
                event.content_key(),
                ci.forge,
                delivery_id,
                ci.event_name,
                event.repo.full_name,
                event.kind.value,
                event.action,
            ],
        )


@dataclass
class RunResult:
    """What the runner did: the summary printed as JSON and the process exit code."""

    summary: dict[str, Any]
    exit_code: int = 0


def run_ci_event(
    ci: CIEvent,
    settings: Settings,
    *,
    db: Database | None = None,
    dispatcher: Any = None,
    dry_run: bool = False,
) -> RunResult:
    """Parse, dedupe and handle one CI event; apply what the handlers propose.

    Args:
        ci: The event (see :func:`read_ci_event`).
        settings: Process settings (credentials, allowlist, clones directory).
        db: The records database for dedupe and the audit log (None: no dedupe).
        dispatcher: Overrides the handlers + executor path (tests, dry runs).
        dry_run: Run the handlers and report their actions without writing.

    Raises:
        PayloadError: the payload is not a valid event of its name.
        SettingsError: the payload's repository is not the CI job's repository.
    """
    from bot.errors import PayloadError
    from bot.jobs.queue import Job
    from bot.jobs.subjects import MrAliases, resolve_subject
    from bot.parsers import parse_event

    summary: dict[str, Any] = {"forge": ci.forge, "event_name": ci.event_name or None}
    if ci.ignored:
        return RunResult({**summary, "status": "ignored", "reason": ci.ignored})
    if ci.dispatched is not None:
        secret = settings.dispatch_secret
        text, signature = ci.dispatched
        event = dispatched.decode(
            text,
            signature,
            secret.get_secret_value() if secret else None,
            source=ci.source or "the dispatch",
            forge=ci.forge,
        )
        # The event's own delivery: a re-dispatched job is a duplicate here too.
        ci = replace(ci, event_name=event.event_name, delivery_id=event.delivery_id)
        summary.update(event_name=event.event_name, dispatched=True)
    else:
        try:
            event = parse_event(ci.forge, ci.event_name, ci.body, ci.delivery_id)
        except PayloadError as exc:
            if ci.source is None:
                raise
            raise type(exc)(f"{ci.source}: {exc}") from exc
    summary.update(
        delivery_id=ci.delivery_id,
        kind=event.kind.value,
        action=event.action,
        repo=event.repo.full_name,
        number=event.number,
        actor=event.actor.login,
    )
    if event.kind in (EventKind.IGNORED, EventKind.PING):
        reason = event.reason or f"{ci.event_name} is not an event AgentForge acts on"
        return RunResult({**_brief(summary), "status": "ignored", "reason": reason})
    if ci.expected_repo and event.repo.full_name.lower() != ci.expected_repo.lower():
        raise SettingsError(
            f"the event payload is for {event.repo.full_name} but this CI job runs in "
            f"{ci.expected_repo}",
            variable="GITHUB_REPOSITORY" if ci.forge == "github" else "CI_PROJECT_PATH",
        )
    if not repo_allowed(event.repo.full_name, settings.repo_allowlist):
        reason = f"repository {event.repo.full_name} is not in the allowlist"
        return RunResult({**_brief(summary), "status": "ignored", "reason": reason})
    if db is not None and _seen(db, ci.forge, ci.delivery_id, event.content_key()):
        reason = "already handled (same delivery id or same change)"
        return RunResult({**_brief(summary), "status": "duplicate", "reason": reason})
    if dispatcher is None:
        dispatcher = default_dispatcher(settings, db, dry_run=dry_run)
    job = Job(
        id=0,
        delivery_id=ci.delivery_id,
        forge=ci.forge,
        event_name=ci.event_name,
        repo=event.repo.full_name,
        subject=resolve_subject(event, MrAliases.for_db(db) if db is not None else None),
        payload=ci.body,
        headers={},
        attempts=1,
        max_attempts=1,
        lease_owner="ci",
    )
    result = dispatcher.dispatch(job, event)
    if not dry_run and result.get("actions") and result.get("executed") is not True:
        # Proposed but not written (no credentials for the forge): the CI job must not
        # go green, and the event must not count as handled, so a re-run tries again.
        return RunResult(
            {
                **_brief(summary),
                **result,
                "status": "not_applied",
                "reason": _not_applied(ci, result),
            },
            1,
        )
    outcomes = result.get("outcomes") or []
    failed = [o for o in outcomes if o.get("status") == "failed"]
    if db is not None and not failed:
        _remember(db, ci, event)
    status = "dry_run" if dry_run else ("failed" if failed else "done")
    return RunResult({**_brief(summary), "status": status, **result}, 1 if failed else 0)


def _not_applied(ci: CIEvent, result: dict[str, Any]) -> str:
    """Why proposed actions were not applied, naming the setting that would fix it."""
    count = len(result.get("actions") or [])
    why = result.get("reason") or "no executor was configured to apply them"
    missing = result.get("missing_setting")
    if missing == "AGENTFORGE_GITHUB_TOKEN" and ci.forge == "github":
        # In GitHub Actions the workflow's own token is the usual answer.
        missing = (
            "GITHUB_TOKEN (the workflow's token, `secrets.GITHUB_TOKEN`) or AGENTFORGE_GITHUB_TOKEN"
        )
    hint = f"; set {missing}, or pass --dry-run to only show them" if missing else ""
    return f"{count} proposed action(s) were not applied: {why}{hint}"


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("forge", "event_name", "delivery_id", "kind", "action", "repo", "number", "actor")
    return {k: summary[k] for k in keep if k in summary}


def default_dispatcher(settings: Settings, db: Database | None, *, dry_run: bool = False) -> Any:
    """Handlers (this process's registry) with services, then the executor.

    With ``dry_run`` the handlers run without services and nothing is executed.
    """
    from bot.jobs.dispatch import InProcessDispatcher

    if dry_run:
        # No services: they would write during the run (the live status comment).
        return InProcessDispatcher()
    from bot.services import build_dispatcher

    # Without a data directory the run store lives in memory for this job: the forge
    # and git hold a run's state, so the handlers rebuild it from there.
    return build_dispatcher(
        settings, db if db is not None else Database.in_memory(), raise_retryable=False
    )


def open_records(settings: Settings, *, explicit: bool) -> Database | None:
    """The data directory's records, if it exists or was asked for; None otherwise.

    A CI checkout should not grow a data directory nobody asked for, so the default
    one is used only when it is already there (restored from a CI cache, say).
    """
    if explicit or settings.db_path.exists():
        return Database.open(settings.data_dir)
    return None


def run_in_ci(
    env: Mapping[str, str],
    *,
    forge: str | None = None,
    event_name: str | None = None,
    payload: Path | None = None,
    data_dir: Path | None = None,
    dry_run: bool = False,
    dispatcher_factory: Callable[[Settings, Database | None], Any] | None = None,
) -> RunResult:
    """Everything ``agentforge run`` does, with the environment passed in.

    Raises:
        SettingsError: bad or missing CI variables, flags or settings.
        PayloadError: the payload does not parse as its event.
        StoreError: the data directory is locked by another process.
    """
    ci = read_ci_event(env, forge=forge, event_name=event_name, payload=payload)
    settings = ci_settings(env, data_dir=data_dir)
    explicit = data_dir is not None or bool(env.get("AGENTFORGE_DATA_DIR", "").strip())
    db = None if ci.ignored else open_records(settings, explicit=explicit)
    try:
        dispatcher = dispatcher_factory(settings, db) if dispatcher_factory else None
        result = run_ci_event(ci, settings, db=db, dispatcher=dispatcher, dry_run=dry_run)
        if not ci.ignored:
            from bot.commands.doctor import token_scope_warnings

            # In the summary, not a log line: the job's output is the JSON summary.
            warnings = token_scope_warnings(settings)
            if warnings:
                result.summary["warnings"] = warnings
        return result
    finally:
        if db is not None:
            db.close()
