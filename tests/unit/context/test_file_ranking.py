"""Whole-file BM25, weighted query terms and the file-level priors of the retriever."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.context.filerank import FieldWeights, FileBM25, file_counts
from bot.context.history import GitHistory
from bot.context.index import RepoIndex
from bot.context.retrieval import Retriever, Weights
from bot.context.text import query_terms, stem

USES = "from pkg.hooks import merge_hooks\n\n\ndef run(h):\n    return merge_hooks(h)\n"
DEFINES = "def merge_hooks(hooks):\n    return dict(hooks)\n"


def _index(repo, tmp_path: Path, name: str = "idx") -> RepoIndex:
    index = RepoIndex(tmp_path / name, repo="acme/pkg")
    index.update(GitHistory(repo.path))
    return index


def test_file_counts_weights_path_and_defined_names() -> None:
    fields = FieldWeights(3, 2, stem=False)
    counts = file_counts("pkg/hooks.py", [(DEFINES, "merge_hooks")], fields)
    plain = file_counts("pkg/hooks.py", [(DEFINES, "merge_hooks")], FieldWeights(0, 0, False))
    assert counts["hooks"] - plain["hooks"] == 3 + 2  # path stem and the defined name
    assert counts["pkg"] == plain["pkg"] + 3
    assert counts["mergehooks"] == plain["mergehooks"] + 2
    assert file_counts("api.py", [], FieldWeights()) == Counter({"api": 2})
    stemmed = file_counts("pkg/hooks.py", [(DEFINES, "merge_hooks")], FieldWeights(3, 2, True))
    assert "hooks" not in stemmed and stemmed["hook"] == counts["hooks"]


def test_stemmed_scoring_matches_prose_to_code_words(git_repo, tmp_path) -> None:
    code = "def serialize_report(report):\n    return report.to_dict()\n"
    git_repo.commit({"pkg/reports.py": code, "pkg/other.py": "def unrelated():\n    pass\n"})
    table = _index(git_repo, tmp_path).open_table()
    query = query_terms("serialization of reporting")
    assert FileBM25(table, fields=FieldWeights(stem=True)).score(query).keys() == {"pkg/reports.py"}
    assert FileBM25(table).score(query) == {}


def test_defining_file_outranks_file_that_only_uses_the_name(git_repo, tmp_path) -> None:
    git_repo.commit({"pkg/hooks.py": DEFINES, "pkg/runner.py": USES * 2}, "init")
    table = _index(git_repo, tmp_path).open_table()
    scores = FileBM25(table).score(query_terms("merge_hooks loses hooks"))
    assert scores["pkg/hooks.py"] > scores.get("pkg/runner.py", 0.0)
    assert FileBM25(table).score(Counter()) == {}
    assert FileBM25(None).score(Counter({"hooks": 1})) == {}


def test_file_scores_follow_incremental_updates(git_repo, tmp_path) -> None:
    git_repo.commit({"pkg/a.py": "def alpha():\n    pass\n", "pkg/b.py": DEFINES}, "one")
    index = _index(git_repo, tmp_path)
    before = FileBM25(index.open_table()).score(Counter({"zeta": 1.0}))
    assert before == {}
    git_repo.commit({"pkg/a.py": "def zeta_value():\n    pass\n"}, "two", delete=("pkg/b.py",))
    index.update(GitHistory(git_repo.path))
    ranker = FileBM25(index.open_table())
    assert set(ranker.docs) == {"pkg/a.py"}
    assert ranker.score(Counter({"zeta": 1.0})).keys() == {"pkg/a.py"}


def test_only_code_files_are_documents(sample_repo, tmp_path) -> None:
    docs = FileBM25(_index(sample_repo, tmp_path).open_table()).docs
    assert "README.md" not in docs and "tests/test_sessions.py" not in docs
    assert "pkg/sessions.py" in docs


def test_query_terms_boost_code_names_over_prose() -> None:
    plain = query_terms("the session drops `merge_hooks` output")
    boosted = query_terms("the session drops `merge_hooks` output", code_boost=2.0)
    assert plain["merge"] == 1 and boosted["merge"] == 3 and boosted["mergehooks"] == 3
    assert boosted["session"] == plain["session"] == 1
    assert query_terms("") == Counter()


def test_file_text_signal_is_reported(sample_repo, tmp_path) -> None:
    index = _index(sample_repo, tmp_path)
    ranked = Retriever(index, weights=Weights(file_text=1.0)).rank_files("multipart body")
    assert ranked[0].path == "pkg/models.py"
    assert ranked[0].reasons["file_text"] == pytest.approx(1.0)
    off = Retriever(index, weights=Weights(file_text=0.0)).rank_files("multipart body")
    assert all("file_text" not in f.reasons for f in off)


def test_innermost_repository_frame_gets_the_extra_weight(sample_repo, tmp_path) -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/venv/site-packages/pkg/sessions.py", line 12, in send\n'
        '  File "/venv/site-packages/pkg/models.py", line 7, in prepare_body\n'
        '  File "/usr/lib/python3.12/json/__init__.py", line 3, in dumps\n'
    )
    ranked = Retriever(_index(sample_repo, tmp_path), weights=Weights(trace_deepest=0.5))
    by_path = {f.path: f for f in ranked.rank_files(trace)}
    assert by_path["pkg/models.py"].reasons["trace_deepest"] == pytest.approx(0.5)
    assert "trace_deepest" not in by_path["pkg/sessions.py"].reasons


def test_churn_prior_prefers_often_changed_code(git_repo, tmp_path) -> None:
    git_repo.commit({"pkg/core.py": "X = 0\n", "pkg/rare.py": "Y = 0\n", "docs/a.md": "x\n"})
    for n in range(1, 4):
        git_repo.commit({"pkg/core.py": f"X = {n}\n", "docs/a.md": f"{n}\n"}, "work")
    history = GitHistory(git_repo.path)
    index = _index(git_repo, tmp_path)
    ranked = Retriever(index, stats=history.change_stats(), weights=Weights(churn=0.2))
    by_path = {f.path: f for f in ranked.rank_files("Fix #12")}
    # One distinct query term ("fix"): the prior keeps 20/21 of its weight.
    assert by_path["pkg/core.py"].reasons["churn"] == pytest.approx(0.2 / (1 + 1 / 20))
    assert 0 < by_path["pkg/rare.py"].reasons["churn"] < by_path["pkg/core.py"].reasons["churn"]
    assert "docs/a.md" not in by_path  # the prior is for code only
    wordy = " ".join(f"word{chr(97 + i)}" for i in range(20))  # 20 more distinct terms
    long = {f.path: f for f in ranked.rank_files("Fix #12 " + wordy)}
    assert long["pkg/core.py"].reasons["churn"] == pytest.approx(0.2 / (1 + 21 / 20))
    none = Retriever(index, stats=None, weights=Weights(churn=0.2)).rank_files("Fix #12")
    assert none == []


def test_auxiliary_code_is_discounted(git_repo, tmp_path) -> None:
    body = "def render_widget():\n    return 1\n"
    git_repo.commit({"pkg/widget.py": body, "examples/widget_demo.py": body}, "init")
    index = _index(git_repo, tmp_path)
    ranked = Retriever(index, weights=Weights(auxiliary_factor=0.3)).rank_files("render widget")
    scores = {f.path: f.score for f in ranked}
    assert scores["examples/widget_demo.py"] < scores["pkg/widget.py"]
    flat = Retriever(index, weights=Weights(auxiliary_factor=1.0, path_words=0.0))
    flat_scores = {f.path: f.score for f in flat.rank_files("render widget")}
    assert scores["examples/widget_demo.py"] < flat_scores["examples/widget_demo.py"]


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("serialization", "serialized", "serializable", "serialize"), True),
        (("skipping", "skips", "skip"), True),
        (("parsing", "parse", "parsed"), True),
        (("files", "file"), True),
        (("classes", "class"), True),
        (("configuration", "configure"), True),
        (("pass", "passed"), True),
        (("session", "sessions"), True),
        (("report", "repeat"), False),
        (("hook", "hooks", "book"), False),
    ],
)
def test_stem_folds_word_forms(words: tuple[str, ...], same: bool) -> None:
    stems = {stem(w) for w in words}
    assert (len(stems) == 1) is same


@pytest.mark.parametrize("word", ["io", "py3", "utf8", "abc", "x"])
def test_stem_leaves_short_and_alphanumeric_terms_alone(word: str) -> None:
    assert stem(word) == word


def test_same_content_at_two_paths_keeps_each_path(git_repo, tmp_path) -> None:
    body = "def helper_value():\n    return 1\n"
    git_repo.commit({"pkg/alpha_mod.py": body, "pkg/beta_mod.py": body}, "twins")
    ranker = FileBM25(_index(git_repo, tmp_path).open_table())
    assert ranker.docs["pkg/alpha_mod.py"]["alpha"] > 0
    assert "alpha" not in ranker.docs["pkg/beta_mod.py"]
    assert ranker.score(Counter({"beta": 1.0})).keys() == {"pkg/beta_mod.py"}
