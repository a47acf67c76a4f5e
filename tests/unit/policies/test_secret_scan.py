"""Secret scanning of added lines: realistic fake secrets are found, ordinary code passes.

The fake secrets are built from parts, so this file itself does not look like it
holds one (and the repository's own scan stays clean).
"""

from __future__ import annotations

import pytest

from bot.actions import FileChange, PushCommit
from bot.forge import Permission
from bot.repoconfig import RepoConfig
from policies.secrets import scan, secret_scan
from policies.snapshot import ChangedFile, Snapshot, diff_of_changes
from policies.verdict import Decision

AWS_ID = "AKIA" + "Z7QW3RT5YU2IOPAS"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq4Hn8Tk"
GITHUB = "ghp_" + "R7nQ2sLk9VbX4mTz8WcJ5yHd3FpA6gUe1oKi"
KEY_BLOCK = "-----BEGIN RSA " + "PRIVATE KEY-----"
ENTROPY = "Zm9vYmFyMTIzNDU2Nzg5MA" + "kx7Qp2Lw9Rt4Yv8Nz3Bc6"


@pytest.mark.parametrize(
    ("path", "text", "kind", "line"),
    [
        ("src/settings.py", f'import os\nAWS_ACCESS_KEY_ID = "{AWS_ID}"\n', "AWS Access Key", 2),
        ("src/aws.py", f'secret = "{AWS_SECRET}"\n', "Base64 High Entropy String", 1),
        ("scripts/ci.sh", f"#!/bin/sh\n\nexport GH_TOKEN={GITHUB}\n", "GitHub Token", 3),
        ("keys/deploy.pem", f"{KEY_BLOCK}\nMIIEowIBAAKCAQEA\n", "Private Key", 1),
        ("app/config.js", f'const k = "{ENTROPY}";\n', "Base64 High Entropy String", 1),
    ],
)
def test_realistic_fake_secrets_are_found_with_file_line_and_kind(path, text, kind, line) -> None:
    diff = diff_of_changes([FileChange(path=path, content=text)])
    found = scan(diff)
    assert (path, line, kind) in {(f.path, f.line, f.kind) for f in found}


def test_the_verdict_names_file_line_and_kind_never_the_secret() -> None:
    action = PushCommit(
        repo="a/b",
        branch="x",
        base="main",
        message="m",
        changes=[FileChange(path="src/s.py", content=f'x = 1\ntoken = "{GITHUB}"\n')],
    )
    s = Snapshot(actor="a", permission=Permission.WRITE).for_action(action)
    verdict = secret_scan(action, s)
    assert verdict.decision == Decision.DENY
    assert "src/s.py:2: GitHub Token" in verdict.reason
    assert GITHUB not in verdict.reason
    assert GITHUB[4:20] not in verdict.reason


ORDINARY = {
    "tests/fixtures/ids.py": (
        'RUN_ID = "3f2b8c1e-9d4a-4e6b-8f7a-2c1d0e9b8a7f"\n'
        'run_uuid = "123e4567-e89b-12d3-a456-426614174000"\n'
    ),
    "uv.lock": (
        'sdist = { url = "x", hash = '
        '"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }\n'
    ),
    "package-lock.json": (
        '"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+'
        'DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="\n'
    ),
    "src/git.py": (
        'HEAD = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"\n'
        'EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"\n'
    ),
    "src/app.py": (
        "def main():\n"
        '    password = os.environ["DB_PASSWORD"]\n'
        '    token = get_secret("gh")\n'
        '    return "hello world"\n'
    ),
    "README.md": "Set `AGENTFORGE_GITHUB_TOKEN=${{ secrets.BOT_TOKEN }}` in the workflow.\n",
    "src/fixture.py": f'FAKE = "{ENTROPY}"  # pragma: allowlist secret\n',
}


@pytest.mark.parametrize("path", sorted(ORDINARY))
def test_ordinary_code_passes(path) -> None:
    diff = diff_of_changes([FileChange(path=path, content=ORDINARY[path])])
    assert scan(diff) == []


def test_only_added_lines_are_scanned() -> None:
    old = f'key = "{AWS_ID}"\n'
    diff = diff_of_changes([FileChange(path="a.py", content=old + "x = 1\n")], {"a.py": old})
    assert scan(diff) == []  # the secret was there before: not this change's doing


def test_deletions_and_binary_names_are_not_scanned() -> None:
    diff = (ChangedFile("a.py", (), deleted=True), ChangedFile("logo.png", ((1, GITHUB),)))
    assert scan(diff) == []


def test_scanning_can_be_turned_off_in_config() -> None:
    action = PushCommit(
        repo="a/b",
        branch="x",
        base="main",
        message="m",
        changes=[FileChange(path="a.py", content=f'k = "{GITHUB}"\n')],
    )
    off = RepoConfig.model_validate({"policies": {"secret_scan": False}})
    s = Snapshot(actor="a", permission=Permission.WRITE, config=off).for_action(action)
    assert secret_scan(action, s).decision == Decision.SKIP


def test_a_secret_in_a_very_long_line_is_found() -> None:
    line = "x" * 9000 + f" {GITHUB} " + "y" * 9000
    assert [f.kind for f in scan((ChangedFile("min.js", ((1, line),)),))] == ["GitHub Token"]
