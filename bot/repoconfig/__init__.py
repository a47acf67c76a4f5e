"""A repository's AgentForge configuration: the ``.agentforge/`` directory.

``config.yaml`` (approvers, protected paths, index, models, budgets, privacy, prices),
``workflow.yaml`` (phases, roles, gates) and ``roles/*.md`` (prompt templates with front
matter). Read at the default branch's head, never from a merge request's branch.
This is a contract module: handlers, agents and policies may import it.
"""

from bot.repoconfig.issues import ConfigIssue
from bot.repoconfig.loader import load_files, load_repo_config, read_config_files, validate_files
from bot.repoconfig.schema import (
    BUILTIN_ROLES,
    AgentForgeConfig,
    Gate,
    Phase,
    RepoConfig,
    RoleSpec,
    WorkflowConfig,
)

__all__ = [
    "BUILTIN_ROLES",
    "AgentForgeConfig",
    "ConfigIssue",
    "Gate",
    "Phase",
    "RepoConfig",
    "RoleSpec",
    "WorkflowConfig",
    "load_files",
    "load_repo_config",
    "read_config_files",
    "validate_files",
]
