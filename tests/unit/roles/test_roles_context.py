"""Searches over the context index and the discussion ContextSource."""

from __future__ import annotations

import json

from bot.context.retrieval import Retriever
from bot.roles_context import DiscussionIndex, IndexSearch, update_index
from tests.unit.roles.role_helpers import make_repo


def test_code_and_discussion_searches_are_separate_and_comments_indexed_once(tmp_path):
    root = make_repo(tmp_path / "repo")
    source = DiscussionIndex(tmp_path / "index", "github")
    directory = source.location("acme/calc")
    update_index(directory, "acme/calc", root)
    for _ in range(2):  # a redelivered comment is not indexed twice
        source.add_discussion(
            "acme/calc",
            number=7,
            is_mr=False,
            comment_id="c1",
            author="bob",
            body="Rounding should use banker's rules",
        )
    source.add_discussion(
        "acme/calc", number=3, is_mr=True, comment_id="c2", author="ann", body="rounding later"
    )
    retriever = Retriever(update_index(directory, "acme/calc", root))
    found = IndexSearch(retriever, discussions=True).search("rounding rules", k=5)
    assert {h.path for h in found} == {"#7", "!3"}
    assert sum("banker" in h.text for h in found) == 1
    code = IndexSearch(retriever).search("add numbers", k=5)
    assert code and all(not h.path.startswith(("#", "!")) for h in code)
    stored = json.loads((directory / "discussions" / "issue-7.json").read_text())
    assert list(stored["comments"].values()) == ["bob: Rounding should use banker's rules"]
