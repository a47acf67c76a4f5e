"""The staged change set: path guards on writes and reads, overlay, materialize."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agents.roles.changes import ChangeSet, normalize_path, resolve_read
from bot.actions import FileChange
from bot.errors import RoleToolError, UnsafePath, WriteRefused
from bot.repoconfig.schema import RepoConfig

PROTECTED = RepoConfig().protected_paths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs" / "requirements").mkdir(parents=True)
    (root / "src").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / "README.md").write_text("# App\n")
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "docs" / "requirements" / "r1.md").write_text("AC-1\n")
    run = root / "run.sh"
    run.write_text("#!/bin/sh\necho ok\n")
    run.chmod(0o755)
    return root


def changes(root: Path, writes=("docs/requirements/**",), **kw) -> ChangeSet:
    return ChangeSet(root, writes=list(writes), protected=list(PROTECTED), **kw)


def test_a_write_inside_writes_is_staged_not_written(tree):
    cs = changes(tree)
    cs.write("docs/requirements/r2.md", "AC-2\n")
    assert cs.file_changes() == [FileChange(path="docs/requirements/r2.md", content="AC-2\n")]
    assert len(cs) == 1
    assert not (tree / "docs" / "requirements" / "r2.md").exists()


def test_a_write_outside_writes_is_refused_and_says_which_globs(tree):
    cs = changes(tree)
    with pytest.raises(WriteRefused) as info:
        cs.write("docs/x.md", "text")
    assert info.value.reason == "outside_writes"
    assert "docs/x.md" in str(info.value)
    assert "docs/requirements/**" in str(info.value)
    assert len(cs) == 0


@pytest.mark.parametrize(
    ("path", "glob"),
    [
        (".agentforge/config.yaml", ".agentforge/**"),
        (".github/workflows/ci.yml", ".github/workflows/**"),
        (".GitHub/Workflows/ci.yml", ".github/workflows/**"),
        (".gitlab-ci.yml", ".gitlab-ci.yml"),
    ],
)
def test_a_protected_path_is_refused_even_when_writes_allow_everything(tree, path, glob):
    cs = changes(tree, writes=["**"])
    with pytest.raises(WriteRefused) as info:
        cs.write(path, "x")
    assert info.value.reason == "protected"
    assert glob in str(info.value)
    with pytest.raises(WriteRefused):
        cs.delete(path)
    assert cs.file_changes() == []


UNSAFE = [
    "../outside.md",
    "docs/../../outside.md",
    "/etc/passwd",
    "C:/x.md",
    "~/x.md",
    ".git/config",
    "src/.git/hooks/pre-commit",
    ".GIT/config",
    "",
    "   ",
    ".",
    "docs\\x.md",
    "docs/x\x00.md",
    "docs/x\n.md",
]


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused_for_writes(tree, path):
    cs = changes(tree, writes=["**"])
    with pytest.raises(WriteRefused) as info:
        cs.write(path, "x")
    assert info.value.reason == "unsafe_path"
    assert cs.file_changes() == []


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused_for_reads(tree, path):
    cs = changes(tree)
    with pytest.raises(UnsafePath):
        cs.read(path)
    with pytest.raises(UnsafePath):
        resolve_read(tree, path)


def test_normalize_path_removes_dots_and_double_slashes():
    assert normalize_path("./docs//requirements/./r.md") == "docs/requirements/r.md"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.txt").write_text("token=abc\n")
    return secret


def test_a_symlink_out_of_the_tree_is_refused_for_reads_and_writes(tree, outside):
    os.symlink(outside, tree / "docs" / "requirements" / "out")
    os.symlink(outside / "secret.txt", tree / "leak.txt")
    cs = changes(tree, writes=["**"])
    with pytest.raises(UnsafePath):
        cs.read("docs/requirements/out/secret.txt")
    with pytest.raises(UnsafePath):
        cs.read("leak.txt")
    with pytest.raises(WriteRefused) as info:
        cs.write("docs/requirements/out/new.md", "x")
    assert info.value.reason == "unsafe_path"
    assert "symbolic link" in str(info.value)
    with pytest.raises(WriteRefused):
        cs.write("leak.txt", "overwrite")
    assert (outside / "secret.txt").read_text() == "token=abc\n"
    assert not (outside / "new.md").exists()


def test_a_symlink_inside_the_tree_is_readable_but_never_written_through(tree):
    os.symlink("docs", tree / "d")
    cs = changes(tree, writes=["**"])
    assert cs.read("d/requirements/r1.md") == "AC-1\n"
    with pytest.raises(WriteRefused):
        cs.write("d/requirements/r9.md", "x")


def test_a_symlink_into_dot_git_is_refused(tree):
    os.symlink(".git/config", tree / "cfg")
    with pytest.raises(UnsafePath):
        changes(tree).read("cfg")


def test_reads_overlay_staged_content_and_deletions(tree):
    cs = changes(tree)
    cs.write("docs/requirements/r1.md", "AC-1 changed\n")
    cs.write("docs/requirements/new.md", "new\n")
    assert cs.read("docs/requirements/r1.md") == "AC-1 changed\n"
    assert cs.read("README.md") == "# App\n"
    assert cs.read("nope.md") is None
    cs.delete("docs/requirements/r1.md")
    assert cs.read("docs/requirements/r1.md") is None
    assert not cs.exists("docs/requirements/r1.md")
    assert cs.exists("docs/requirements/new.md")
    assert cs.list_files("docs") == ["docs/requirements/new.md"]
    assert ".git/config" not in cs.list_files()
    assert cs.file_changes() == [
        FileChange(path="docs/requirements/new.md", content="new\n"),
        FileChange(path="docs/requirements/r1.md", content=None),
    ]


def test_list_files_prefix_is_a_directory_not_a_string_prefix(tree):
    cs = changes(tree)
    (tree / "docsx.md").write_text("x")
    cs2 = changes(tree)
    assert "docsx.md" not in cs2.list_files("docs")
    assert cs.list_files("src/") == ["src/app.py"]


def test_deleting_a_missing_file_is_refused_and_a_new_file_is_just_forgotten(tree):
    cs = changes(tree)
    with pytest.raises(WriteRefused) as info:
        cs.delete("docs/requirements/none.md")
    assert info.value.reason == "conflict"
    cs.write("docs/requirements/tmp.md", "x")
    cs.delete("docs/requirements/tmp.md")
    assert len(cs) == 0


def test_writing_what_the_tree_has_is_no_change(tree):
    cs = changes(tree)
    cs.write("docs/requirements/r1.md", "other\n")
    cs.write("docs/requirements/r1.md", "AC-1\n")
    assert cs.file_changes() == []


def test_a_file_and_a_directory_cannot_swap(tree):
    cs = changes(tree, writes=["**"])
    with pytest.raises(WriteRefused):
        cs.write("src/app.py/inner.py", "x")
    with pytest.raises(WriteRefused):
        cs.write("src", "x")


def test_oversized_writes_and_binary_reads_are_refused(tree):
    cs = changes(tree, writes=["**"], max_write_bytes=10)
    with pytest.raises(WriteRefused):
        cs.write("docs/requirements/big.md", "x" * 11)
    (tree / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    with pytest.raises(RoleToolError):
        cs.read("logo.png")


def test_materialize_applies_changes_without_touching_the_checkout(tree, outside, tmp_path):
    os.symlink(outside / "secret.txt", tree / "leak.txt")
    cs = changes(tree, writes=["**"])
    cs.write("src/app.py", "print('changed')\n")
    cs.write("src/new.py", "x = 1\n")
    cs.delete("README.md")
    dest = cs.materialize(tmp_path / "scratch")
    assert (dest / "src" / "app.py").read_text() == "print('changed')\n"
    assert (dest / "src" / "new.py").read_text() == "x = 1\n"
    assert not (dest / "README.md").exists()
    assert not (dest / ".git").exists()
    assert not (dest / "leak.txt").exists()  # a link out of the tree is not copied
    assert (dest / "run.sh").stat().st_mode & stat.S_IXUSR
    assert (tree / "src" / "app.py").read_text() == "print('hi')\n"
    assert (tree / "README.md").exists()
    with pytest.raises(UnsafePath):
        cs.materialize(dest)  # not empty


def test_tracked_limits_the_tree_to_those_files(tree):
    (tree / ".venv").mkdir()
    (tree / ".venv" / "big.py").write_text("x")
    cs = changes(tree, tracked=["README.md", "src/app.py"])
    assert cs.list_files() == ["README.md", "src/app.py"]
    assert cs.read(".venv/big.py") is None


def test_unified_diff_of_staged_changes(tree):
    cs = changes(tree, writes=["**"])
    cs.write("src/app.py", "print('bye')\n")
    cs.write("docs/new.md", "hello\n")
    cs.delete("README.md")
    diff = cs.unified_diff()
    assert "--- a/src/app.py\n+++ b/src/app.py\n" in diff
    assert "-print('hi')\n+print('bye')\n" in diff
    assert "new file mode 100644\n--- /dev/null\n+++ b/docs/new.md\n" in diff
    assert (
        "deleted file mode 100644\n--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# App\n" in diff
    )
    assert cs.unified_diff("docs").startswith("diff --git a/docs/new.md")
