"""Identifier splitting, search terms and mention extraction."""

from __future__ import annotations

import pytest

from bot.context.text import (
    estimate_tokens,
    extract_mentions,
    is_doc_path,
    is_test_path,
    path_terms,
    search_terms,
    split_identifier,
)


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("getHTTPResponse_code", ["get", "http", "response", "code"]),
        ("merge_hooks", ["merge", "hooks"]),
        ("__init__", ["init"]),
        ("PairGrid", ["pair", "grid"]),
        ("utf8Decode2", ["utf", "8", "decode", "2"]),
        ("__", []),
        ("", []),
    ],
)
def test_split_identifier(token: str, parts: list[str]) -> None:
    assert split_identifier(token) == parts


def test_search_terms_adds_joined_form_and_drops_stopwords() -> None:
    terms = search_terms("def register_hook(self): return None").split()
    assert "register" in terms and "hook" in terms and "registerhook" in terms
    assert "self" not in terms and "def" not in terms and "return" not in terms


def test_search_terms_of_non_text_is_empty() -> None:
    assert search_terms("  \n\t!!! 123 ... ") == ""


def test_path_terms_split_directories_and_stem() -> None:
    assert path_terms("src/flask/json/provider.py").split() == [
        "src", "flask", "json", "provider",
    ]  # fmt: skip


def test_extract_mentions_finds_paths_modules_identifiers_and_frames() -> None:
    text = (
        "Calling `Session.send` in requests.sessions fails, see src/requests/models.py.\n"
        'File "/usr/lib/site-packages/seaborn/_core.py", line 144, in _lookup_single\n'
        "The PairGrid class and merge_hooks() are involved."
    )
    m = extract_mentions(text)
    assert "src/requests/models.py" in m.paths
    assert "requests.sessions" in m.modules
    assert "/usr/lib/site-packages/seaborn/_core.py" in m.trace_paths
    for name in ("Session", "send", "PairGrid", "merge_hooks"):
        assert name in m.identifiers
    assert "the" not in m.identifiers


def test_extract_mentions_ignores_urls_as_modules_and_plain_prose() -> None:
    m = extract_mentions("see docs.python.org and example.com for more words here")
    assert m.modules == ("docs.python.org",) or "example.com" not in m.modules
    assert "example.com" not in m.modules
    assert m.paths == ()
    assert extract_mentions("").identifiers == ()


@pytest.mark.parametrize(
    ("path", "test", "doc"),
    [
        ("tests/test_x.py", True, False),
        ("src/pkg/test_util.py", True, False),
        ("pkg/conftest.py", True, False),
        ("pkg/testing.py", False, False),
        ("docs/index.rst", False, True),
        ("CHANGES.rst", False, True),
        ("examples/demo.py", False, True),
        ("src/pkg/core.py", False, False),
    ],
)
def test_path_classes(path: str, test: bool, doc: bool) -> None:
    assert is_test_path(path) is test
    assert is_doc_path(path) is doc


def test_estimate_tokens_is_positive_and_grows() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("x" * 400) == 100
