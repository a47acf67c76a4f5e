"""`agentforge local ...` through click's runner: happy paths and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.commands.local import local
from bot.forges.local import LocalForge
from bot.workspace import Identity, Workspace


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("hi\n")
    forge_dir = tmp_path / "forge"
    monkeypatch.setenv("AGENTFORGE_LOCAL_DIR", str(forge_dir))
    monkeypatch.setenv("AGENTFORGE_LOCAL_USER", "alice")
    result = CliRunner().invoke(
        local, ["init", str(forge_dir), "--from", str(seed), "--name", "acme/app"]
    )
    assert result.exit_code == 0, result.output
    return forge_dir


def run(*args: str) -> object:
    return CliRunner().invoke(local, list(args))


def test_issue_flow(env, tmp_path):
    body = tmp_path / "body.md"
    body.write_text("from a file")
    assert (
        run(
            "issue",
            "open",
            "--title",
            "T",
            "--body-file",
            str(body),
            "--label",
            "a",
            "--label",
            "b",
        ).exit_code
        == 0
    )
    assert run("comment", "1", "--body", "hello").exit_code == 0
    shown = json.loads(run("issue", "show", "1", "--json").output)
    assert (shown["body"], shown["labels"]) == ("from a file", ["a", "b"])
    assert [c["body"] for c in shown["comments"]] == ["hello"]
    listed = run("issue", "list").output
    assert "#1" in listed and "T" in listed
    assert run("issue", "close", "1").exit_code == 0
    assert json.loads(run("issue", "list", "--state", "closed", "--json").output)[0]["number"] == 1


def test_mr_flow_and_events(env, tmp_path):
    forge = LocalForge(env, "alice")
    ws = Workspace.open(forge.clone_url("acme/app"), tmp_path / "ws")
    ws.create_branch("feat", "main")
    ws.write_file("f.txt", "f")
    ws.commit("f", author=Identity("a", "a@a"))
    ws.push()
    assert run("mr", "open", "--head", "feat", "--title", "Feat", "--draft").exit_code == 0
    assert (
        run("--as", "bob", "mr", "review", "1", "--request-changes", "--body", "tests?").exit_code
        == 0
    )
    assert run("mr", "ready", "1").exit_code == 0
    assert run("mr", "merge", "1").exit_code == 0
    data = json.loads(run("mr", "show", "1", "--json").output)
    assert data["state"] == "merged"
    assert [r["state"] for r in data["reviews"]] == ["changes_requested"]
    lines = run("events", "--json").output.strip().splitlines()
    kinds = [(json.loads(x)["event"]["kind"], json.loads(x)["event"]["action"]) for x in lines]
    assert ("mr_review", "submitted") in kinds and kinds[-1] == ("merge_request", "merged")
    last = json.loads(lines[-2])["seq"]
    assert len(run("events", "--after", str(last)).output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("issue", "show", "42"),
        ("issue", "show", "notanumber"),
        ("issue", "open"),
        ("issue", "open", "--title", "x", "--body", "a", "--body-file", __file__),
        ("comment", "42", "--body", "x"),
        ("mr", "review", "1"),
        ("mr", "open", "--head", "missing", "--title", "x"),
        ("mr", "list", "--state", "weird"),
        ("--project", "no/such", "issue", "list"),
        ("grant", "bob", "superuser"),
        ("--as", "bob", "grant", "eve", "admin"),
        ("events", "--after", "-1"),
    ],
)
def test_bad_input_exits_2(env, args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_no_forge_yet_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFORGE_LOCAL_DIR", str(tmp_path / "empty"))
    result = run("issue", "list")
    assert result.exit_code == 2
    assert not (tmp_path / "empty" / "forge.duckdb").exists()


def test_several_projects_need_project_option(env, tmp_path):
    seed2 = tmp_path / "seed2"
    seed2.mkdir()
    assert run("init", str(env), "--from", str(seed2), "--name", "acme/two").exit_code == 0
    assert run("issue", "list").exit_code == 2
    assert run("--project", "acme/two", "issue", "list").exit_code == 0


def test_empty_lists_say_none(env):
    issues = run("issue", "list")
    assert issues.exit_code == 0 and issues.output.strip() == "none (open issues)"
    mrs = run("mr", "list", "--state", "all")
    assert mrs.exit_code == 0 and mrs.output.strip() == "none (all merge requests)"
    assert json.loads(run("issue", "list", "--json").output) == []  # scripts get []
    assert json.loads(run("mr", "list", "--json").output) == []


def test_status_reports_a_check_on_a_branch_head_or_a_sha(env):
    import pygit2

    forge = LocalForge(env, "alice")
    bare = pygit2.Repository(str(forge.bare_path("acme/app")))
    sha = str(bare.references["refs/heads/main"].peel(pygit2.Commit).id)
    assert forge.list_checks("acme/app", sha) == []
    out = run("status", "main", "--state", "failure", "--context", "pytest")
    assert out.exit_code == 0, out.output
    out = run("status", sha, "--state", "success", "--context", "lint")
    assert out.exit_code == 0, out.output
    checks = {(c.context, c.state.value) for c in forge.list_checks("acme/app", sha)}
    assert checks == {("pytest", "failure"), ("lint", "success")}
    assert run("status", "nope", "--state", "success").exit_code == 2  # no such commit
    assert run("status", "main", "--state", "green").exit_code == 2  # click's usage error


def _feature_mr(env: Path, tmp_path: Path) -> None:
    forge = LocalForge(env, "alice")
    ws = Workspace.open(forge.clone_url("acme/app"), tmp_path / "wc2")
    ws.create_branch("feat", "main")
    ws.write_file("f.txt", "one\ntwo\n")
    ws.commit("f", author=Identity("a", "a@a"))
    ws.push()
    assert run("mr", "open", "--head", "feat", "--title", "Feat").exit_code == 0


def test_a_review_with_line_comments(env, tmp_path):
    _feature_mr(env, tmp_path)
    out = run(
        "--as", "bob", "mr", "review", "1", "--comment", "--body", "two notes",
        "--line", "f.txt:1:say one louder", "--line", "f.txt:2: two: with a colon ",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    comments = LocalForge(env, "alice").list_review_comments("acme/app", 1)
    assert [(c.path, c.line, c.body, c.author.login) for c in comments] == [
        ("f.txt", 1, "say one louder", "bob"),
        ("f.txt", 2, "two: with a colon", "bob"),
    ]
    assert len({c.review_id for c in comments}) == 1  # one review holds both


@pytest.mark.parametrize("spec", ["f.txt", "f.txt:x:text", "f.txt:0:text", "f.txt:3:", ":3:t"])
def test_a_bad_line_comment_is_a_usage_error_and_nothing_is_submitted(env, tmp_path, spec):
    _feature_mr(env, tmp_path)
    out = run("--as", "bob", "mr", "review", "1", "--comment", "--line", spec)
    assert out.exit_code == 2 and "--line" in out.output
    forge = LocalForge(env, "alice")
    assert forge.list_reviews("acme/app", 1) == []
    assert forge.list_review_comments("acme/app", 1) == []


def test_status_with_a_log_records_it_for_the_check(env, tmp_path):
    import pygit2

    forge = LocalForge(env, "alice")
    bare = pygit2.Repository(str(forge.bare_path("acme/app")))
    sha = str(bare.references["refs/heads/main"].peel(pygit2.Commit).id)
    log = tmp_path / "ci.log"
    log.write_text("E   assert 1 == 2\n1 failed\n", encoding="utf-8")
    out = run("status", "main", "--state", "failure", "--context", "pytest", "--log", str(log))
    assert out.exit_code == 0, out.output
    assert forge.get_check_log("acme/app", sha, "pytest") == "E   assert 1 == 2\n1 failed\n"
    # A short sha names the same commit.
    out = run("status", sha[:10], "--state", "failure", "--context", "lint", "--log", str(log))
    assert out.exit_code == 0, out.output
    assert forge.get_check_log("acme/app", sha, "lint") is not None
    # An unknown ref is refused before anything is recorded.
    assert run("status", "nope", "--state", "failure", "--log", str(log)).exit_code == 2
    assert run("status", "main", "--state", "failure", "--log", str(tmp_path / "x")).exit_code == 2


def test_team_sets_and_empties_members(env):
    assert run("team", "acme/core", "lead", "ann").exit_code == 0
    forge = LocalForge(env, "alice")
    assert forge.is_team_member("acme/app", "acme/core", "lead")
    assert run("team", "acme/core", "ann").exit_code == 0  # replaces the members
    assert not forge.is_team_member("acme/app", "acme/core", "lead")
    assert run("team", "acme/core").exit_code == 0
    assert not forge.is_team_member("acme/app", "@acme/core", "ann")
    bad = run("team", "@")
    assert bad.exit_code == 2 and "a team needs a name" in bad.output
