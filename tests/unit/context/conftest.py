"""Tiny git repositories built in tmp_path with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A throw-away repository with helpers to write files and commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tick = 0
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str | None = None) -> str:
        env = {**os.environ, **_ENV}
        # Deterministic, increasing commit times make history assertions exact.
        stamp = f"{1_700_000_000 + self._tick * 86400} +0000"
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = stamp
        if author:
            env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = author
        out = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True
        )
        return out.stdout.decode().strip()

    def write(self, rel: str, content: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def commit(
        self,
        files: dict[str, str | bytes] | None = None,
        message: str = "change",
        *,
        delete: tuple[str, ...] = (),
        author: str | None = None,
    ) -> str:
        for rel, content in (files or {}).items():
            self.write(rel, content)
        for rel in delete:
            self.git("rm", "-q", rel)
        self.git("add", "-A")
        self._tick += 1
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty git repository (no commits yet)."""
    path = tmp_path / "repo"
    path.mkdir()
    return GitRepo(path)


SESSION_PY = '''"""Sessions."""

import os

DEFAULT_TIMEOUT = 30


class Session:
    """Keeps cookies."""

    def send(self, request):
        return self.adapter.send(request)

    def merge_hooks(self, hooks):
        return dict(hooks)


def make_session():
    return Session()
'''

MODELS_PY = '''"""Models."""


class PreparedRequest:
    def prepare_body(self, data, files):
        """Encode the body of a request with multipart files."""
        body = encode_multipart(files)
        return body


def encode_multipart(files):
    return b"".join(files)
'''

TEST_SESSION_PY = """from pkg.sessions import Session


def test_session_send_merge_hooks():
    session = Session()
    assert session.merge_hooks({}) == {}
    assert session.send is not None
"""


@pytest.fixture
def sample_repo(git_repo: GitRepo) -> GitRepo:
    """A small Python project with one commit."""
    git_repo.commit(
        {
            "pkg/__init__.py": "",
            "pkg/sessions.py": SESSION_PY,
            "pkg/models.py": MODELS_PY,
            "tests/test_sessions.py": TEST_SESSION_PY,
            "README.md": "# Pkg\n\nA tiny HTTP library.\n\n## Sessions\n\nUse a Session.\n",
        },
        "initial",
    )
    return git_repo


@pytest.fixture
def session_py() -> str:
    """Source of the sample ``pkg/sessions.py``."""
    return SESSION_PY
