"""Ranking chunks and files, signals, optional dense vectors, and context packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.context.history import GitHistory
from bot.context.index import RepoIndex
from bot.context.pack import build_context_pack
from bot.context.retrieval import Retriever, Weights
from bot.errors import ConfigError


@pytest.fixture
def indexed(sample_repo, tmp_path: Path) -> RepoIndex:
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(GitHistory(sample_repo.path))
    return index


def test_search_chunks_returns_spans_best_first(indexed: RepoIndex) -> None:
    hits = Retriever(indexed).search_chunks("multipart body encoding")
    assert hits[0].path == "pkg/models.py"
    assert hits[0].score >= hits[-1].score
    assert all(h.start_line <= h.end_line for h in hits)


def test_no_terms_or_no_index_gives_nothing(indexed: RepoIndex, tmp_path: Path) -> None:
    assert Retriever(indexed).search_chunks("!!! ... ???") == []
    empty = Retriever(RepoIndex(tmp_path / "none", repo="acme/none"))
    assert empty.search_chunks("session") == []
    assert empty.rank_files("session") == []


def test_symbol_definition_beats_mere_use(indexed: RepoIndex) -> None:
    # The test file *uses* Session.merge_hooks more often; the code *defines* it.
    ranked = Retriever(indexed).rank_files("Session.merge_hooks drops hooks")
    assert ranked[0].path == "pkg/sessions.py"
    assert "symbol_definition" in ranked[0].reasons
    test_rank = [f.path for f in ranked].index("tests/test_sessions.py")
    assert test_rank > 0


def test_explicit_path_and_traceback_mentions(indexed: RepoIndex) -> None:
    ranked = Retriever(indexed).rank_files("something odd in pkg/models.py")
    assert ranked[0].path == "pkg/models.py" and "path_mention" in ranked[0].reasons
    trace = 'Traceback:\n  File "/venv/site-packages/pkg/sessions.py", line 12, in send\n'
    ranked = Retriever(indexed).rank_files(trace)
    assert ranked[0].path == "pkg/sessions.py" and "trace_mention" in ranked[0].reasons


def test_dotted_module_name_maps_to_file(indexed: RepoIndex) -> None:
    ranked = Retriever(indexed).rank_files("importing pkg.models breaks")
    assert ranked[0].path == "pkg/models.py" and "module_mention" in ranked[0].reasons


def test_tests_are_down_weighted_for_fixes(indexed: RepoIndex) -> None:
    plain = Retriever(indexed, weights=Weights(non_code_factor=1.0)).rank_files("session send")
    weighted = Retriever(indexed).rank_files("session send")
    score = {f.path: f.score for f in weighted}
    plain_score = {f.path: f.score for f in plain}
    assert score["tests/test_sessions.py"] < plain_score["tests/test_sessions.py"]
    assert score["pkg/sessions.py"] == pytest.approx(plain_score["pkg/sessions.py"])


def test_co_change_with_anchor_is_a_signal(git_repo, tmp_path: Path) -> None:
    git_repo.commit({"a.py": "def alpha():\n    pass\n", "b.py": "def beta_value():\n    pass\n",
                     "c.py": "def gamma_value():\n    pass\n"}, "init")  # fmt: skip
    for n in range(3):
        git_repo.commit({"a.py": f"def alpha():\n    return {n}\n",
                         "c.py": f"def gamma_value():\n    return {n}\n"}, "a with c")  # fmt: skip
    history = GitHistory(git_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/co")
    index.update(history)
    stats = history.change_stats()
    ranked = Retriever(index, stats=stats).rank_files("value", anchors=("a.py",))
    by_path = {f.path: f for f in ranked}
    # c.py changed with a.py in all 4 of a.py's commits, b.py only in the first.
    assert by_path["c.py"].reasons["co_change"] > by_path["b.py"].reasons.get("co_change", 0.0)
    assert ranked[0].path == "c.py"


def test_context_pack_respects_budget_and_deduplicates(indexed: RepoIndex) -> None:
    retriever = Retriever(indexed)
    pack = build_context_pack(retriever, "Session send merge_hooks multipart", 10_000)
    assert pack.items and pack.tokens <= 10_000
    spans = [(i.path, i.start_line, i.end_line) for i in pack.items]
    assert len(spans) == len(set(spans))
    for a in pack.items:
        for b in pack.items:
            if a is not b and a.path == b.path:
                assert a.end_line < b.start_line or b.end_line < a.start_line
    rendered = pack.render()
    first = pack.items[0]
    assert f"{first.path}:{first.start_line}-{first.end_line}" in rendered
    small = build_context_pack(retriever, "Session send merge_hooks multipart", 60)
    assert small.tokens <= 60 and len(small.items) < len(pack.items)
    assert build_context_pack(retriever, "Session", 1).items == []
    with pytest.raises(ValueError):
        build_context_pack(retriever, "Session", 0)


def test_context_pack_shows_defining_chunk_for_reference_only_files(indexed: RepoIndex) -> None:
    pack = build_context_pack(Retriever(indexed), "see pkg/models.py", 2000)
    assert pack.paths[0] == "pkg/models.py"


def test_embeddings_spec_errors() -> None:
    from bot.context.embeddings import make_embedder

    assert make_embedder(None) is None and make_embedder("none") is None
    with pytest.raises(ConfigError):
        make_embedder("no-colon")
    with pytest.raises(ConfigError):
        make_embedder("no-such-provider:model")


def test_hybrid_search_with_a_registered_embedding_function(sample_repo, tmp_path: Path) -> None:
    import hashlib

    from lancedb.embeddings import TextEmbeddingFunction, register

    from bot.context.embeddings import make_embedder

    @register("agentforge-test-hash")
    class HashEmbeddings(TextEmbeddingFunction):
        """Bag of hashed words: deterministic, no model, enough to test the wiring."""

        name: str = "hash"

        def ndims(self) -> int:
            return 16

        def generate_embeddings(self, texts):
            out = []
            for text in texts:
                vec = [0.0] * 16
                for word in str(text).lower().split():
                    vec[hashlib.md5(word.encode()).digest()[0] % 16] += 1.0
                out.append(vec)
            return out

    embedder = make_embedder("agentforge-test-hash:hash")
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg", embedder=embedder)
    index.update(GitHistory(sample_repo.path))
    assert "vector" in index.open_table().schema.names
    hits = Retriever(index).search_chunks("encode multipart files body")
    assert hits and hits[0].path == "pkg/models.py"
    assert 0 < hits[-1].score <= hits[0].score == pytest.approx(1.0)
