"""Role checkouts: persistent worktrees of the cached clone, reset before every run."""

from __future__ import annotations

import shutil
import threading

import pygit2
import pytest

from agents.roles.changes import ChangeSet
from bot.errors import WorkspaceError
from bot.role_checkouts import WORKTREE_PREFIX, RoleCheckouts
from tests.unit.roles.role_helpers import git, make_repo


def _commit(root, path, text, message):
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    git(root, "add", path)
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def clone(tmp_path):
    return make_repo(tmp_path / "clones" / "local" / "acme" / "app")


def test_a_checkout_is_a_worktree_at_the_commit_sharing_objects(tmp_path, clone):
    first = git(clone, "rev-parse", "HEAD").strip()
    second = _commit(clone, "docs/new.md", "# new\n", "second")
    pool = RoleCheckouts(tmp_path / "clones", "local")

    with pool.checkout(clone, "acme/app", first) as path:
        view = pygit2.Repository(str(path))
        assert str(view.head.target) == first and view.head_is_detached
        assert not (path / "docs" / "new.md").exists()
        # The clone's objects and refs are shared: its newer commit is readable here.
        assert str(view.revparse_single(second).id) == second
        assert (path / ".git").is_file()
    # No stray branch in the clone; the worktree is registered under its slot name.
    main = pygit2.Repository(str(clone))
    assert list(main.branches.local) == ["main"]
    assert main.list_worktrees() == [f"{WORKTREE_PREFIX}0"]

    with pool.checkout(clone, "acme/app", second) as again:
        assert again == path  # reused, not copied again
        assert (again / "docs" / "new.md").read_text() == "# new\n"


def test_a_reset_discards_what_an_earlier_run_left(tmp_path, clone):
    head = git(clone, "rev-parse", "HEAD").strip()
    pool = RoleCheckouts(tmp_path / "clones", "local")
    with pool.checkout(clone, "acme/app", head) as path:
        (path / "calc.py").write_text("tampered\n")
        (path / "stray.txt").write_text("left behind\n")
        (path / "build").mkdir()
        (path / "build" / "out.o").write_text("x")
        (path / "README.md").unlink()
    with pool.checkout(clone, "acme/app", head) as path:
        assert "def add" in (path / "calc.py").read_text()
        assert (path / "README.md").exists()
        assert not (path / "stray.txt").exists() and not (path / "build").exists()
        assert pygit2.Repository(str(path)).status() == {}


def test_concurrent_runs_get_separate_slots(tmp_path, clone):
    head = git(clone, "rev-parse", "HEAD").strip()
    pool = RoleCheckouts(tmp_path / "clones", "local")
    with pool.checkout(clone, "acme/app", head) as one:
        seen: list = []

        def other():
            with pool.checkout(clone, "acme/app", head) as two:
                seen.append(two)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(30)
        assert seen and seen[0] != one
    # Both slots are free again: the next run takes the first one.
    with pool.checkout(clone, "acme/app", head) as again:
        assert again == one


def test_a_damaged_slot_is_made_again(tmp_path, clone):
    head = git(clone, "rev-parse", "HEAD").strip()
    pool = RoleCheckouts(tmp_path / "clones", "local")
    with pool.checkout(clone, "acme/app", head) as path:
        pass
    # The clone forgot the worktree (a re-made clone has no record of it).
    shutil.rmtree(clone / ".git" / "worktrees")
    with pool.checkout(clone, "acme/app", head) as path:
        assert str(pygit2.Repository(str(path)).head.target) == head
    # The slot's directory holds junk instead of a worktree.
    shutil.rmtree(path)
    path.mkdir()
    (path / "junk").write_text("x")
    with pool.checkout(clone, "acme/app", head) as path:
        assert (path / "calc.py").exists() and not (path / "junk").exists()


def test_an_unknown_commit_is_a_workspace_error(tmp_path, clone):
    pool = RoleCheckouts(tmp_path / "clones", "local")
    with pytest.raises(WorkspaceError, match="0" * 40), pool.checkout(clone, "acme/app", "0" * 40):
        pass


def test_the_worktree_link_is_not_a_tree_file(tmp_path, clone):
    head = git(clone, "rev-parse", "HEAD").strip()
    pool = RoleCheckouts(tmp_path / "clones", "local")
    with pool.checkout(clone, "acme/app", head) as path:
        changes = ChangeSet(path, writes=["**"], protected=[])
        files = changes.list_files()
        assert ".git" not in files and "calc.py" in files
        sandbox_tree = changes.materialize(tmp_path / "sandbox")
        assert not (sandbox_tree / ".git").exists()
