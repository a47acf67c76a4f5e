"""Plumbing shared by the local forge's parts: projects, users, permissions, events.

See :mod:`bot.forges.local` for the layout of a forge directory.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import duckdb
import pygit2

from bot.errors import Conflict, Forbidden, InvalidRequest, NotFound
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.forge import (
    Issue,
    MergeRequest,
    Permission,
    RepoInfo,
    User,
)
from bot.forges import local_git
from bot.forges.local_store import LocalStore, next_id

USER_ENV = "AGENTFORGE_LOCAL_USER"
DIR_ENV = "AGENTFORGE_LOCAL_DIR"
DEFAULT_DIR = ".agentforge-local"
BOT_USER = "agentforge"
"""Who the bot acts as on a local forge when ``AGENTFORGE_BOT_LOGIN`` is unset."""

REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
REVIEW_STATES = ("approved", "changes_requested", "commented")
_NAME_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
_STATUS_TO_PIPELINE = {"error": "failure"}


def default_user() -> str:
    """``AGENTFORGE_LOCAL_USER``, else the operating-system user."""
    return os.environ.get(USER_ENV) or getpass.getuser()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def check_project_name(name: str) -> str:
    """Validate ``owner/name`` (or ``group/sub/name``) for a local project.

    Raises:
        InvalidRequest: a part is empty, ``.``/``..`` or has characters git URLs dislike.
    """
    parts = name.split("/")
    if len(parts) < 2 or any(
        not _NAME_PART.fullmatch(p) or p in (".", "..") or p.endswith(".git") for p in parts
    ):
        raise InvalidRequest(
            f"project name {name!r} must look like owner/name (letters, digits, _.-)",
            forge="local",
        )
    return name


class LocalBase:
    """Projects, users, permissions and the event outbox of a local forge.

    Args:
        directory: The forge directory (created on first write).
        user: The login this instance acts as (default :func:`default_user`).
        is_bot: Record ``user`` as a bot account (its events carry ``is_bot``).
    """

    name = "local"

    def __init__(self, directory: Path | str, user: str | None = None, *, is_bot: bool = False):
        self.directory = Path(directory).resolve()
        self.user = user or default_user()
        self.is_bot = is_bot
        self._store = LocalStore(self.directory)
        self.spool_path = self.directory / local_git.SPOOL_NAME

    def as_user(self, login: str, *, is_bot: bool = False) -> Self:
        """The same forge, acting as someone else."""
        return type(self)(self.directory, login, is_bot=is_bot)

    # --- plumbing

    def _tx(self, doing: str):
        return self._store.connect(doing)

    def _err(self, cls: type, message: str, doing: str) -> Exception:
        return cls(f"{doing}: {message}", forge="local", operation=doing)

    def bare_path(self, repo: str) -> Path:
        """Where the bare repository of project ``repo`` lives."""
        return self.directory.joinpath("repos", *check_project_name(repo).split("/")).with_name(
            repo.split("/")[-1] + ".git"
        )

    def _bare(self, repo: str) -> pygit2.Repository:
        return pygit2.Repository(str(self.bare_path(repo)))

    def _project(self, con: duckdb.DuckDBPyConnection, repo: str, doing: str) -> dict[str, Any]:
        row = con.execute(
            "SELECT id, full_name, created_by FROM projects WHERE full_name = ?", [repo]
        ).fetchone()
        if row is None:
            raise self._err(NotFound, f"no project {repo} in {self.directory}", doing)
        # Pushes made since the last operation become events first, so events keep
        # the order in which things happened.
        self._sync_pushes(con)
        return {"id": row[0], "full_name": row[1], "created_by": row[2]}

    def _ensure_user(self, con: duckdb.DuckDBPyConnection, login: str, is_bot: bool = False):
        row = con.execute("SELECT id, is_bot FROM users WHERE login = ?", [login]).fetchone()
        if row is None:
            uid = next_id(con, "users")
            con.execute("INSERT INTO users VALUES (?, ?, ?)", [login, uid, is_bot])
            return User(login=login, id=str(uid), is_bot=is_bot)
        if is_bot and not row[1]:
            con.execute("UPDATE users SET is_bot = true WHERE login = ?", [login])
        return User(login=login, id=str(row[0]), is_bot=bool(row[1] or is_bot))

    def _me(self, con: duckdb.DuckDBPyConnection) -> User:
        return self._ensure_user(con, self.user, self.is_bot)

    def _user(self, con: duckdb.DuckDBPyConnection, login: str) -> User:
        row = con.execute("SELECT id, is_bot FROM users WHERE login = ?", [login]).fetchone()
        if row is None:
            return User(login=login)
        return User(login=login, id=str(row[0]), is_bot=bool(row[1]))

    def _level(self, con: duckdb.DuckDBPyConnection, project_id: int, login: str) -> Permission:
        row = con.execute(
            "SELECT level FROM permissions WHERE project_id = ? AND login = ?", [project_id, login]
        ).fetchone()
        return Permission(row[0]) if row else Permission.NONE

    def _require(
        self, con: duckdb.DuckDBPyConnection, project: dict, level: Permission, doing: str
    ) -> None:
        have = self._level(con, project["id"], self.user)
        if have < level:
            raise self._err(
                Forbidden, f"{self.user} has {have.name} access, {level.name} is needed", doing
            )

    # --- events

    def _repo_ref(self, project: dict) -> RepoRef:
        try:
            branch = local_git.default_branch(self._bare(project["full_name"]))
        except pygit2.GitError:
            branch = None
        return RepoRef(
            full_name=project["full_name"],
            id=str(project["id"]),
            clone_url=self.bare_path(project["full_name"]).as_uri(),
            default_branch=branch,
        )

    def _emit(
        self,
        con: duckdb.DuckDBPyConnection,
        project: dict,
        kind: EventKind,
        action: str,
        *,
        actor: User | None = None,
        **fields: Any,
    ) -> Event:
        who = actor or self._me(con)
        seq = next_id(con, "outbox", "seq")
        event = Event(
            forge=ForgeKind.LOCAL,
            kind=kind,
            action=action,
            event_name=kind.value,
            delivery_id=str(uuid.uuid4()),
            repo=self._repo_ref(project),
            actor=Actor(login=who.login, id=who.id, is_bot=who.is_bot),
            **fields,
        )
        event = event.model_copy(update={"raw": event.summary()})
        con.execute("INSERT INTO outbox VALUES (?, ?, ?)", [seq, _now(), event.model_dump_json()])
        return event

    def _item_event(
        self, con: duckdb.DuckDBPyConnection, project: dict, item: Issue | MergeRequest, **extra
    ) -> dict[str, Any]:
        """The fields an issue/MR event carries about its subject."""
        fields: dict[str, Any] = {
            "number": item.number,
            "title": item.title,
            "body": item.body,
            "labels": list(item.labels),
            "state": item.state,
            "object_id": f"{project['id']}:{item.number}",
            "updated_at": item.updated_at,
        }
        if isinstance(item, MergeRequest):
            fields.update(
                is_mr=True,
                draft=item.draft,
                head_ref=item.head_ref,
                base_ref=item.base_ref,
                head_sha=item.head_sha,
            )
            fields["base_sha"] = local_git.branch_sha(
                self._bare(project["full_name"]), item.base_ref
            )
        fields.update(extra)
        return fields

    def events(self, after: int = 0) -> list[tuple[int, Event]]:
        """Events with a sequence number above ``after``, oldest first.

        Pushes made since the last call are turned into events first.
        """
        with self._tx("reading local forge events") as con:
            self._sync_pushes(con)
            rows = con.execute(
                "SELECT seq, event FROM outbox WHERE seq > ? ORDER BY seq", [after]
            ).fetchall()
        return [(seq, Event.model_validate_json(text)) for seq, text in rows]

    def _sync_pushes(self, con: duckdb.DuckDBPyConnection) -> None:
        """Turn pushes made since the last call into events.

        A push to an MR's branch is also that MR's ``synchronize`` event, so the MR
        mixin (:class:`bot.forges.local_mrs.MergeRequestsMixin`) implements this; the
        base only declares it, which keeps the mixins' imports pointing one way.
        """
        raise NotImplementedError

    # --- projects

    def init_project(self, name: str, source: Path | str) -> RepoInfo:
        """Create project ``name`` seeded from a git repository or a plain directory.

        A git source gives all its branches and tags, default branch kept; a plain
        directory becomes one initial commit on ``main``. ``self.user`` becomes admin.

        Raises:
            InvalidRequest: bad name, or a source that is missing or empty.
            Conflict: the project exists.
        """
        doing = f"creating local project {name}"
        check_project_name(name)
        source = Path(source).expanduser().resolve()
        if not source.is_dir():
            raise self._err(InvalidRequest, f"source {source} is not a directory", doing)
        bare_path = self.bare_path(name)
        with self._tx(doing) as con:
            exists = con.execute("SELECT 1 FROM projects WHERE full_name = ?", [name]).fetchone()
            if exists or bare_path.exists():
                raise self._err(Conflict, f"project {name} already exists", doing)
            me = self._me(con)
            bare = local_git.init_bare(bare_path)
            try:
                if (source / ".git").exists() or source.name.endswith(".git"):
                    local_git.seed_from_git(bare, source)
                else:
                    sig = pygit2.Signature(me.login, f"{me.login}@localhost")
                    local_git.seed_from_dir(bare, source, "main", sig)
            except BaseException:
                import shutil

                shutil.rmtree(bare_path, ignore_errors=True)
                raise
            local_git.install_hook(bare_path, self.spool_path, name)
            pid = next_id(con, "projects")
            con.execute(
                "INSERT INTO projects VALUES (?, ?, ?, ?, 1)", [pid, name, self.user, _now()]
            )
            con.execute("INSERT INTO permissions VALUES (?, ?, ?)", [pid, self.user, 50])
            for ref, sha in local_git.read_refs(bare).items():
                con.execute("INSERT INTO refs VALUES (?, ?, ?)", [pid, ref, sha])
        return self.get_repo(name)

    def list_projects(self) -> list[str]:
        """Full names of every project, sorted."""
        with self._tx("listing local projects") as con:
            rows = con.execute("SELECT full_name FROM projects ORDER BY full_name").fetchall()
        return [r[0] for r in rows]

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a project."""
        with self._tx(f"reading project {repo}") as con:
            project = self._project(con, repo, f"reading project {repo}")
        ref = self._repo_ref(project)
        return RepoInfo(
            full_name=repo,
            id=ref.id,
            default_branch=ref.default_branch or "main",
            clone_url=self.clone_url(repo),
            private=True,
        )

    def clone_url(self, repo: str) -> str:
        """The bare repository's ``file://`` URL (plain paths work too)."""
        return self.bare_path(repo).as_uri()

    def grant(self, repo: str, login: str, permission: Permission) -> None:
        """Give ``login`` a permission on ``repo``; needs ADMIN (``NONE`` removes them)."""
        doing = f"granting {login} {Permission(permission).name} on {repo}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._require(con, project, Permission.ADMIN, doing)
            self._ensure_user(con, login)
            con.execute(
                "DELETE FROM permissions WHERE project_id = ? AND login = ?", [project["id"], login]
            )
            if permission > Permission.NONE:
                con.execute(
                    "INSERT INTO permissions VALUES (?, ?, ?)",
                    [project["id"], login, int(permission)],
                )

    def get_permission(self, repo: str, login: str) -> Permission:
        """``login``'s permission on ``repo`` (``NONE`` when not a member)."""
        doing = f"reading {login}'s permission on {repo}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            return self._level(con, project["id"], login)

    # --- teams (CODEOWNERS team owners)

    def set_team(self, team: str, members: list[str]) -> None:
        """Create team ``team`` (``org/name`` or any name) with exactly ``members``."""
        doing = f"setting the members of team {team}"
        if not team.strip("@").strip():
            raise self._err(InvalidRequest, "a team needs a name", doing)
        name = team.strip("@")
        with self._tx(doing) as con:
            if con.execute("SELECT 1 FROM teams WHERE name = ?", [name]).fetchone() is None:
                con.execute("INSERT INTO teams VALUES (?, ?)", [name, _now()])
            con.execute("DELETE FROM team_members WHERE team = ?", [name])
            for login in dict.fromkeys(members):
                self._ensure_user(con, login)
                con.execute("INSERT INTO team_members VALUES (?, ?)", [name, login])

    def is_team_member(self, repo: str, team: str, login: str) -> bool:
        """Whether ``login`` is in team ``team`` (:class:`NotFound` for no such team)."""
        doing = f"reading {login}'s membership of team {team}"
        name = team.strip("@")
        with self._tx(doing) as con:
            self._project(con, repo, doing)
            if con.execute("SELECT 1 FROM teams WHERE name = ?", [name]).fetchone() is None:
                raise self._err(NotFound, f"no team {name} in {self.directory}", doing)
            row = con.execute(
                "SELECT 1 FROM team_members WHERE team = ? AND login = ?", [name, login]
            ).fetchone()
        return row is not None
