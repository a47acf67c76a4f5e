"""The scratch checkout a role runs on: a full copy whose git objects are shared."""

from __future__ import annotations

import pygit2

from bot.roles import scratch_copy
from tests.unit.roles.role_helpers import git, make_repo


def test_objects_are_linked_and_the_work_tree_is_copied(tmp_path):
    source = make_repo(tmp_path / "clone")
    git(source, "gc", "-q")  # a pack as well as loose objects
    (source / "loose.txt").write_text("loose\n")
    git(source, "add", "loose.txt")
    git(source, "commit", "-q", "-m", "loose object")
    dest = tmp_path / "scratch"

    scratch_copy(source, dest)

    objects = [p for p in (source / ".git" / "objects").rglob("*") if p.is_file()]
    assert objects and any(p.suffix == ".pack" for p in objects)
    for path in objects:
        copied = dest / path.relative_to(source)
        assert copied.stat().st_ino == path.stat().st_ino
    # The executor rewrites work-tree files in place: the scratch copy must not see it.
    assert (dest / "calc.py").stat().st_ino != (source / "calc.py").stat().st_ino
    (source / "calc.py").write_text("changed\n")
    assert "def add" in (dest / "calc.py").read_text()
    # Refs and the index are the copy's own: moving them leaves the clone alone.
    copy = pygit2.Repository(str(dest))
    head = copy.head.target
    copy.references.create("refs/heads/agentforge-role", head)
    assert "refs/heads/agentforge-role" not in pygit2.Repository(str(source)).references
    assert (
        str(copy.revparse_single("HEAD").peel(pygit2.Commit).id)
        == git(source, "rev-parse", "HEAD").strip()
    )
