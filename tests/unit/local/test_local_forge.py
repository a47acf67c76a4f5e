"""LocalForge beyond the shared contract: seeding, push events, merges, rules, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pygit2
import pytest

from bot.errors import Conflict, Forbidden, InvalidRequest, NotFound, SettingsError
from bot.events import EventKind, ReviewState
from bot.forge import CommitState, Permission
from bot.forges import make_forge
from bot.forges.local import LocalForge
from bot.settings import Settings
from bot.workspace import Identity, Workspace

REPO = "acme/app"
ME = Identity("Dev", "dev@example.test")


def _git(cwd: Path, *args: str, user: str = "tester") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": user,
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": user,
        "GIT_COMMITTER_EMAIL": "t@t",
        "AGENTFORGE_LOCAL_USER": user,
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def src_repo(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q", "-b", "trunk")
    (src / "a.txt").write_text("a\n")
    _git(src, "add", ".")
    _git(src, "commit", "-qm", "init")
    _git(src, "branch", "dev")
    _git(src, "tag", "v1")
    return src


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n")
    (seed / "bin").mkdir()
    (seed / "bin" / "run").write_text("#!/bin/sh\n")
    (seed / "bin" / "run").chmod(0o755)
    f = LocalForge(tmp_path / "forge", "alice")
    f.init_project(REPO, seed)
    return f


def _push(forge: LocalForge, tmp_path: Path, branch: str, files: dict[str, str]) -> str:
    ws = Workspace.open(forge.clone_url(REPO), tmp_path / "ws")
    ws.create_branch(branch, "main", reset=True)
    for k, v in files.items():
        ws.write_file(k, v)
    sha = ws.commit(f"change {branch}", author=ME)
    ws.push(branch)
    return sha


def test_init_from_git_keeps_branches_tags_and_default(tmp_path, src_repo):
    f = LocalForge(tmp_path / "f", "alice")
    info = f.init_project("acme/from-git", src_repo)
    assert info.default_branch == "trunk"
    bare = pygit2.Repository(str(f.bare_path("acme/from-git")))
    assert {"refs/heads/trunk", "refs/heads/dev", "refs/tags/v1"} <= set(bare.references)
    assert f.get_permission("acme/from-git", "alice") == Permission.ADMIN
    cloned = tmp_path / "plain-clone"
    _git(tmp_path, "clone", "-q", info.clone_url, str(cloned))
    assert (cloned / "a.txt").read_text() == "a\n"


def test_init_from_plain_directory(forge, tmp_path):
    bare = pygit2.Repository(str(forge.bare_path(REPO)))
    head = bare.revparse_single("main")
    assert len(head.parents) == 0
    assert {e.name for e in head.tree} == {"README.md", "bin"}
    assert head.tree["bin/run"].filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE


@pytest.mark.parametrize("name", ["noslash", "a/../b", "/abs", "a/b.git", "a b/c", "a/"])
def test_init_rejects_bad_names(tmp_path, name):
    with pytest.raises(InvalidRequest):
        LocalForge(tmp_path / "f", "alice").init_project(name, tmp_path)


def test_init_twice_conflicts_and_missing_source_is_invalid(forge, tmp_path):
    with pytest.raises(Conflict):
        forge.init_project(REPO, tmp_path / "seed")
    with pytest.raises(InvalidRequest):
        forge.init_project("acme/other", tmp_path / "missing")


def test_init_from_empty_git_repo_is_invalid_and_leaves_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    f = LocalForge(tmp_path / "f", "alice")
    with pytest.raises(InvalidRequest):
        f.init_project("acme/empty", empty)
    assert not f.bare_path("acme/empty").exists()
    assert f.list_projects() == []


def test_unknown_project_is_not_found(forge):
    with pytest.raises(NotFound):
        forge.create_issue("acme/none", "x")


def test_plain_git_push_emits_push_event_with_pusher(forge, tmp_path):
    after = forge.events()[-1][0] if forge.events() else 0
    clone = tmp_path / "c"
    _git(tmp_path, "clone", "-q", str(forge.bare_path(REPO)), str(clone))
    _git(clone, "checkout", "-qb", "topic")
    (clone / "t.txt").write_text("t")
    _git(clone, "add", ".")
    _git(clone, "commit", "-qm", "t")
    _git(clone, "push", "-q", "origin", "topic", user="pat")
    pushes = [e for _, e in forge.events(after) if e.kind == EventKind.PUSH]
    assert len(pushes) == 1
    push = pushes[0]
    assert (push.actor.login, push.ref, push.action) == ("pat", "refs/heads/topic", "created")
    assert push.head_sha == _git(clone, "rev-parse", "HEAD")
    _git(clone, "push", "-q", "origin", "--delete", "topic", user="pat")
    deleted = [e for _, e in forge.events(after) if e.kind == EventKind.PUSH][-1]
    assert deleted.action == "deleted"


def test_push_to_mr_branch_emits_synchronize(forge, tmp_path):
    _push(forge, tmp_path, "feat", {"f.txt": "1"})
    mr = forge.open_mr(REPO, head="feat", base="main", title="F")
    ws = Workspace.open(forge.clone_url(REPO), tmp_path / "ws")
    ws.write_file("f.txt", "2")
    new = ws.commit("again", author=ME)
    ws.push()
    syncs = [e for _, e in forge.events() if e.kind == EventKind.MR and e.action == "synchronize"]
    assert [(e.number, e.head_sha) for e in syncs] == [(mr.number, new)]


def test_event_fields(forge):
    bot = forge.as_user("bot", is_bot=True)
    issue = bot.create_issue(REPO, "T", "B", labels=["x"])
    c = bot.create_comment(REPO, issue.number, "hello")
    bot.add_labels(REPO, issue.number, ["y"])
    bot.remove_label(REPO, issue.number, "x")
    events = [e for _, e in forge.events()]
    opened, commented, labeled, unlabeled = events[-4:]
    assert (opened.kind, opened.action, opened.labels) == (EventKind.ISSUE, "opened", ["x"])
    assert opened.actor.is_bot is True
    assert opened.repo.full_name == REPO and opened.repo.default_branch == "main"
    assert (commented.comment, commented.comment_id) == ("hello", c.id)
    assert (labeled.action, labeled.label, labeled.labels) == ("labeled", "y", ["x", "y"])
    assert (unlabeled.action, unlabeled.label, unlabeled.labels) == ("unlabeled", "x", ["y"])
    assert len({e.content_key() for e in events}) == len(events)
    seqs = [s for s, _ in forge.events()]
    assert forge.events(seqs[-2]) == forge.events()[-1:]


def test_merge_fast_forward_and_merge_commit(forge, tmp_path):
    a = _push(forge, tmp_path, "a", {"a.txt": "a"})
    b = _push(forge, tmp_path, "b", {"b.txt": "b"})
    mr_a = forge.open_mr(REPO, head="a", base="main", title="A")
    mr_b = forge.open_mr(REPO, head="b", base="main", title="B")
    merged = forge.merge_mr(REPO, mr_a.number)
    assert merged.state == "merged"
    bare = pygit2.Repository(str(forge.bare_path(REPO)))
    assert str(bare.revparse_single("main").id) == a
    forge.merge_mr(REPO, mr_b.number)
    tip = bare.revparse_single("main")
    assert [str(p) for p in tip.parent_ids] == [a, b]
    assert forge.list_mrs(REPO, state="merged")[0].number == mr_a.number
    kinds = [(e.kind, e.action) for _, e in forge.events()]
    assert (EventKind.MR, "merged") in kinds
    with pytest.raises(InvalidRequest):
        forge.update_mr(REPO, mr_a.number, state="open")


def test_merge_conflict_draft_and_permission(forge, tmp_path):
    _push(forge, tmp_path, "x1", {"README.md": "one"})
    _push(forge, tmp_path, "x2", {"README.md": "two"})
    m1 = forge.open_mr(REPO, head="x1", base="main", title="1")
    m2 = forge.open_mr(REPO, head="x2", base="main", title="2", draft=True)
    with pytest.raises(Forbidden):
        forge.as_user("nobody").merge_mr(REPO, m1.number)
    with pytest.raises(InvalidRequest):
        forge.merge_mr(REPO, m2.number)
    forge.merge_mr(REPO, m1.number)
    forge.mark_ready(REPO, m2.number)
    with pytest.raises(Conflict):
        forge.merge_mr(REPO, m2.number)
    assert forge.get_mr(REPO, m2.number).state == "open"


def test_rules_on_reviews_grants_and_comments(forge, tmp_path):
    _push(forge, tmp_path, "r", {"r.txt": "r"})
    mr = forge.open_mr(REPO, head="r", base="main", title="R")
    with pytest.raises(InvalidRequest):
        forge.submit_review(REPO, mr.number, "approved")  # own MR
    with pytest.raises(InvalidRequest):
        forge.as_user("bob").submit_review(REPO, mr.number, "lgtm")
    review = forge.as_user("bob").submit_review(REPO, mr.number, "approved")
    event = forge.events()[-1][1]
    assert (event.kind, event.review_state, event.actor.login) == (
        EventKind.MR_REVIEW,
        ReviewState.APPROVED,
        "bob",
    )
    assert review.commit_id == forge.get_mr(REPO, mr.number).head_sha
    with pytest.raises(Forbidden):
        forge.as_user("bob").grant(REPO, "eve", Permission.ADMIN)
    c = forge.create_comment(REPO, mr.number, "mine", is_mr=True)
    with pytest.raises(Forbidden):
        forge.as_user("bob").edit_comment(REPO, mr.number, c.id, "theirs", is_mr=True)
    with pytest.raises(NotFound):
        forge.create_comment(REPO, mr.number, "wrong kind", is_mr=False)


def test_statuses_need_a_real_commit(forge, tmp_path):
    sha = _push(forge, tmp_path, "s", {"s.txt": "s"})
    with pytest.raises(InvalidRequest):
        forge.set_commit_status(REPO, "0" * 40, CommitState.SUCCESS, context="ci")
    with pytest.raises(InvalidRequest):
        forge.set_commit_status(REPO, sha, "bogus", context="ci")
    forge.set_commit_status(REPO, sha, CommitState.ERROR, context="ci")
    event = forge.events()[-1][1]
    assert (event.kind, event.pipeline_status, event.pipeline_name) == (
        EventKind.PIPELINE,
        "failure",
        "ci",
    )
    assert [s.state for s in forge.list_commit_statuses(REPO, sha[:10])] == [CommitState.ERROR]


def test_a_status_event_names_the_branch_at_that_commit(forge, tmp_path):
    # Handlers find the MR (and the workflow run) of a check by its branch, as with
    # GitLab's pipeline ``ref``: without it a `tests` gate never hears of the result.
    sha = _push(forge, tmp_path, "agentforge/issue-1", {"s.txt": "s"})
    forge.set_commit_status(REPO, sha, CommitState.SUCCESS, context="pytest")
    event = forge.events()[-1][1]
    assert (event.head_sha, event.head_ref) == (sha, "agentforge/issue-1")


def test_invalid_inputs(forge):
    with pytest.raises(InvalidRequest):
        forge.create_issue(REPO, "   ")
    with pytest.raises(InvalidRequest):
        forge.list_mrs(REPO, state="weird")
    with pytest.raises(InvalidRequest):
        forge.open_mr(REPO, head="main", base="main", title="self")
    issue = forge.create_issue(REPO, "x")
    with pytest.raises(InvalidRequest):
        forge.create_comment(REPO, issue.number, "")
    with pytest.raises(InvalidRequest):
        forge.update_issue(REPO, issue.number, state="merged")
    with pytest.raises(NotFound):
        forge.edit_comment(REPO, issue.number, "abc", "x")


def test_issue_close_and_list(forge):
    a = forge.create_issue(REPO, "a")
    forge.create_issue(REPO, "b")
    forge.update_issue(REPO, a.number, state="closed")
    assert [i.title for i in forge.list_issues(REPO)] == ["b"]
    assert [i.title for i in forge.list_issues(REPO, state="closed")] == ["a"]
    assert forge.events()[-1][1].action == "closed"


def test_threads_get_distinct_numbers(forge):
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                numbers.append(forge.create_issue(REPO, "t").number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))


_CHILD = """
import sys
from bot.forges.local import LocalForge
f = LocalForge(sys.argv[1], sys.argv[2])
print(",".join(str(f.create_issue("acme/app", "p").number) for _ in range(5)))
"""


@pytest.mark.slow
def test_processes_share_the_directory(forge):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(forge.directory), f"p{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    numbers = sorted(int(n) for out in outs for n in out.strip().split(","))
    assert numbers == list(range(1, 16))


def test_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFORGE_LOCAL_DIR", str(tmp_path / "reg"))
    made = make_forge("local", Settings(bot_login="agentforge[bot]"))
    assert isinstance(made, LocalForge)
    assert (made.user, made.directory) == ("agentforge[bot]", (tmp_path / "reg").resolve())
    other = make_forge("local", Settings(), directory=tmp_path / "x", user="u")
    assert other.user == "u"
    with pytest.raises(SettingsError):
        make_forge("bitbucket", Settings())


def test_events_survive_as_json(forge):
    forge.create_issue(REPO, "json")
    _seq, event = forge.events()[-1]
    assert json.loads(event.model_dump_json())["title"] == "json"
    assert event.raw["title"] == "json"


def test_a_status_event_names_the_branch_whose_tip_it_is_on(forge, tmp_path):
    """Like GitHub's status event: a branch whose tip is the commit (the workflow finds a
    run's tests gate by it); a non-default branch first, in name order."""
    sha = _push(forge, tmp_path, "agentforge/issue-1", {"a.txt": "a"})
    forge.set_commit_status(REPO, sha, CommitState.SUCCESS, context="ci")
    assert forge.events()[-1][1].head_ref == "agentforge/issue-1"
    main = forge.get_repo(REPO).default_branch
    main_sha = str(
        pygit2.Repository(str(forge.bare_path(REPO)))
        .references[f"refs/heads/{main}"]
        .peel(pygit2.Commit)
        .id
    )
    forge.set_commit_status(REPO, main_sha, CommitState.SUCCESS, context="ci")
    assert forge.events()[-1][1].head_ref == main
    # Two branches at that commit: the first in name order is named.
    pygit2.Repository(str(forge.bare_path(REPO))).references.create("refs/heads/zcopy", sha)
    forge.set_commit_status(REPO, sha, CommitState.SUCCESS, context="ci")
    assert forge.events()[-1][1].head_ref == "agentforge/issue-1"
