"""Shared pieces of the role-runner tests: a real git repo, the model on a wire fake."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agents.budget import CallContext
from agents.roles.changes import ChangeSet
from agents.roles.sandbox import Sandbox, SandboxLimits
from agents.roles.tools import ToolEnv
from agents.routing import RoutedModel
from agents.usage import MemoryLedger
from bot.repoconfig import RoleSpec
from bot.repoconfig.models import BudgetsConfig, ModelsConfig, PricesConfig
from bot.roles_git import CheckoutGitView

MODEL = {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-5"}
"""Model ids with a shipped price (budgets need one)."""
KEY_ENV = {"FAKE_API_KEY": "sk-test"}
UNLIMITED = BudgetsConfig(
    per_run_usd=None,
    per_phase_usd=None,
    per_issue_usd=None,
    per_repo_month_usd=None,
    max_calls_per_phase=None,
    max_tokens_per_call=None,
    max_tokens_per_phase=None,
)

CALC = '''"""A tiny calculator."""


def add(a: int, b: int) -> int:
    """The sum of a and b."""
    return a + b
'''


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (a test identity, no global config)."""
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(root),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with one commit on ``main`` holding ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    files = files or {
        "calc.py": CALC,
        "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
        "README.md": "# calc\n\nAdds numbers.\n",
        "tests/test_calc.py": (
            "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
        ),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def tools_env(root: Path, spec: RoleSpec, protected: list[str] | None = None) -> ToolEnv:
    """The tools' environment of one run on ``root``."""
    changes = ChangeSet(
        root,
        writes=list(spec.writes),
        protected=protected if protected is not None else [".agentforge/**"],
    )
    return ToolEnv(
        root, changes, Sandbox(SandboxLimits()), git=CheckoutGitView(root, changes), questions=[]
    )


def models_on(base_url: str, kind: str = "openai") -> ModelsConfig:
    """Models config routing every role to one fake provider."""
    return ModelsConfig(
        use_shipped_defaults=False,
        providers={"fake": {"kind": kind, "base_url": base_url, "api_key_env": "FAKE_API_KEY"}},
        routes={"default": [{"provider": "fake", "model": MODEL[kind], "max_tokens": 2000}]},
    )


def routed(
    role: str,
    base_url: str,
    *,
    kind: str = "openai",
    budgets: BudgetsConfig = UNLIMITED,
    ledger: object | None = None,
) -> RoutedModel:
    """The role's routed model on a fake."""
    return RoutedModel(
        role=role,
        models=models_on(base_url, kind),
        prices=PricesConfig(),
        budgets=budgets,
        ledger=ledger if ledger is not None else MemoryLedger(),
        context=CallContext(run_id="r1", phase="build", role=role, repo="acme/calc"),
        env=KEY_ENV,
        sleep=lambda s: None,
    )
