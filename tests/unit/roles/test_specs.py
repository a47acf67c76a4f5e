"""Which spec a role runs with, and which protected paths apply to it."""

from __future__ import annotations

import pytest

from agents.roles.changes import matches
from agents.roles.specs import SHIPPED_ROLES, protected_for, resolve_spec, shipped_spec
from bot.errors import RepoConfigError
from bot.repoconfig import BUILTIN_ROLES, load_files


def test_every_builtin_role_ships_a_valid_spec():
    assert "reviewer" in BUILTIN_ROLES
    assert set(SHIPPED_ROLES) == set(BUILTIN_ROLES)
    for role in SHIPPED_ROLES:
        spec = shipped_spec(role)
        assert spec.name == role and spec.description and spec.template.strip()
        assert "ask_human" in spec.tools


def test_shipped_writes_fit_each_role():
    assert shipped_spec("analyst").writes == ["docs/requirements/**"]
    assert shipped_spec("reviewer").writes == []
    assert matches("docs/test-reports/issue-3.md", shipped_spec("qa").writes)
    assert matches("tests/test_x.py", shipped_spec("qa").writes)
    assert not matches("src/app.py", shipped_spec("qa").writes)
    assert matches("CHANGELOG.md", shipped_spec("writer").writes)


def test_repository_override_wins_over_the_shipped_file():
    config = load_files(
        {".agentforge/roles/analyst.md": "---\ntools: [read_file]\nwrites: [notes/**]\n---\nHi\n"}
    )
    spec = resolve_spec("analyst", config)
    assert spec.writes == ["notes/**"] and spec.template == "Hi\n"
    assert resolve_spec("developer", config) == shipped_spec("developer")


def test_repository_role_without_a_shipped_default():
    config = load_files({".agentforge/roles/security.md": "---\ntools: [read_file]\n---\nGo\n"})
    assert resolve_spec("security", config).name == "security"


def test_unknown_role_is_a_config_error_naming_the_file():
    with pytest.raises(RepoConfigError) as err:
        resolve_spec("poet", load_files({}))
    assert err.value.issues[0].file == ".agentforge/roles/poet.md"


def test_unknown_tool_in_a_role_file_is_a_config_error_with_its_line():
    with pytest.raises(RepoConfigError) as err:
        load_files({".agentforge/roles/x.md": "---\ntools:\n  - read_file\n  - hack\n---\nGo\n"})
    assert err.value.issues[0].line == 4


def test_ci_files_stay_protected_unless_the_role_is_a_ci_writer():
    default = load_files({})
    assert ".github/workflows/**" in protected_for("devops", default)
    devops_ok = load_files({".agentforge/config.yaml": "ci_writers: [devops]\n"})
    protected = protected_for("devops", devops_ok)
    assert ".github/workflows/**" not in protected and ".gitlab-ci.yml" not in protected
    assert ".agentforge/**" in protected
    # Only the listed role is exempt.
    assert ".github/workflows/**" in protected_for("developer", devops_ok)
    # The devops role's writes name the CI files; protection still wins by default.
    assert matches(".github/workflows/ci.yml", shipped_spec("devops").writes)
    assert matches(".github/workflows/ci.yml", protected_for("devops", default))
