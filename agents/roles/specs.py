"""Which :class:`~bot.repoconfig.RoleSpec` a role runs with, and the paths it may touch.

AgentForge ships a default for every built-in role in ``agents/roles/defaults/<role>.md``
(the same format as a repository's role file: YAML front matter with ``description``,
``tools``, ``writes`` and ``model``, then the Jinja2 template). A repository's
``.agentforge/roles/<role>.md``, already parsed into :attr:`AgentForgeConfig.roles`,
replaces the shipped file for that role as a whole: a role file is one unit (its
template and its tools belong together), so nothing is merged field by field.

Protected paths: a role never writes ``config.protected_paths``, except that the roles
listed in ``config.ci_writers`` (typically ``[devops]``) may write the forge's CI files
(:data:`CI_GLOBS`) even when the protected list names them. ``.agentforge/**`` and any
other protected glob stay protected for every role.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bot.errors import RepoConfigError
from bot.repoconfig import AgentForgeConfig, ConfigIssue, RoleSpec, load_files

DEFAULTS_PACKAGE = "agents.roles.defaults"
SHIPPED_ROLES = ("analyst", "architect", "developer", "qa", "devops", "writer", "reviewer")
"""Roles with a template shipped in :data:`DEFAULTS_PACKAGE`."""

CI_GLOBS = frozenset(
    {
        ".github/workflows/**",
        ".github/workflows/*",
        ".github/workflows",
        ".gitlab-ci.yml",
        ".gitlab/ci/**",
    }
)
"""Protected-path entries that ``ci_writers`` roles are exempt from (exact entries)."""


def role_file(role: str) -> str:
    """The repository path of a role's override file."""
    return f".agentforge/roles/{role}.md"


def shipped_file(role: str) -> str:
    """The package path of a role's shipped default (for error messages)."""
    return f"agents/roles/defaults/{role}.md"


@cache
def shipped_spec(role: str) -> RoleSpec | None:
    """The shipped default spec of ``role``, or None when AgentForge ships none.

    Raises:
        RepoConfigError: The shipped file is invalid (a packaging defect; tested).
    """
    if role not in SHIPPED_ROLES:
        return None
    text = resources.files(DEFAULTS_PACKAGE).joinpath(f"{role}.md").read_text(encoding="utf-8")
    # The loader validates a role file with file, line and field; reuse it as is.
    return load_files({role_file(role): text}).roles[role]


def spec_source(role: str, config: AgentForgeConfig) -> str:
    """The file ``role``'s spec comes from: the repository's override or the shipped one."""
    return role_file(role) if role in config.roles else shipped_file(role)


def resolve_spec(role: str, config: AgentForgeConfig) -> RoleSpec:
    """The spec ``role`` runs with: the repository's override, else the shipped default.

    Raises:
        RepoConfigError: No such role (neither in the repository nor shipped).
    """
    spec = config.roles.get(role) or shipped_spec(role)
    if spec is None:
        known = ", ".join(sorted(set(SHIPPED_ROLES) | set(config.roles)))
        raise RepoConfigError(
            [
                ConfigIssue(
                    role_file(role),
                    None,
                    "",
                    f"unknown role {role!r}: add {role_file(role)} or use one of {known}",
                )
            ]
        )
    return spec


def protected_for(role: str, config: AgentForgeConfig) -> list[str]:
    """The protected globs that apply to ``role``.

    Every role gets ``config.protected_paths``; a role in ``config.ci_writers`` loses
    only the CI entries (:data:`CI_GLOBS`), never ``.agentforge/**`` or other globs.
    """
    protected = list(config.config.protected_paths)
    if role in config.config.ci_writers:
        protected = [g for g in protected if g not in CI_GLOBS]
    return protected
