"""Text helpers for code search: identifier splitting, search terms, mentions in issue text.

Everything here is pure Python and cheap to import. The same :func:`search_terms` is
applied to indexed chunks and to queries, so ``getHTTPResponse`` in an issue meets
``get_http_response`` in the code: both become ``get http response`` plus the joined
form ``gethttpresponse``, which acts as a rare, high-weight "exact identifier" term.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# camelCase / PascalCase / ACRONYMWord boundaries, and digits as their own part.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Words that are everywhere in code and in issue snippets; they only add noise.
_STOPWORDS_TEXT = """
    self cls def class return import from none true false if else elif for while in is
    not and or as with try except finally raise pass lambda yield assert del global
    nonlocal async await print the a an of to be it this that on by at we i you my our
    are was were has have had do does did can could should would will may might
    py python file line lines error traceback most recent call last
    """
CODE_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:py|pyi|md|rst|txt|toml|cfg|ini|ya?ml|json|js|ts|"
    r"tsx|jsx|go|rs|java|c|h|cc|cpp|hpp|rb|sh|html|css))\b"
)
_DOTTED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\b")
_BACKTICK = re.compile(r"`([^`\n]{1,120})`")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_TRACE_FILE = re.compile(r'File "([^"\n]+)", line (\d+)')
_TRACE_PATH = re.compile(r"([\w./\\-]+\.py)(?::\d+|\s+in\s+\w+)")


def split_identifier(token: str) -> list[str]:
    """Split one identifier into lower-case words.

    Args:
        token: An identifier such as ``getHTTPResponse_code`` or ``__init__``.

    Returns:
        Its parts, e.g. ``["get", "http", "response", "code"]``; empty for ``__``.
    """
    parts: list[str] = []
    for piece in token.split("_"):
        if piece:
            parts.extend(m.group(0).lower() for m in _CAMEL.finditer(piece))
    return parts


def search_terms(text: str) -> str:
    """Turn text (code, docs or an issue) into a space-separated string of search terms.

    Each identifier contributes its parts and, if it has several, its joined
    lower-case form. Code stop words are dropped.

    Args:
        text: Any text.

    Returns:
        Terms separated by single spaces, in order of appearance (repeats kept, so
        term frequency still means something to BM25).
    """
    out: list[str] = []
    for match in _IDENT.finditer(text):
        token = match.group(0)
        parts = split_identifier(token)
        out.extend(p for p in parts if p not in CODE_STOPWORDS and len(p) > 1)
        if len(parts) > 1:
            out.append("".join(parts))
    return " ".join(out)


def query_terms(text: str, code_boost: float = 0.0) -> Counter:
    """Weighted search terms for free text (an issue), for whole-file scoring.

    Every term counts once per occurrence; terms of names that look like code
    (backticked, called, dotted, CamelCase or snake_case) get ``code_boost`` more per
    distinct name, because an issue's prose is mostly vocabulary shared by every file.

    Args:
        text: Issue or commit text.
        code_boost: Extra weight for the terms of code-looking names.

    Returns:
        Term -> weight.
    """
    weights: Counter = Counter(search_terms(text).split())
    if code_boost:
        for name in extract_mentions(text).identifiers:
            for term in set(search_terms(name).split()):
                weights[term] += code_boost
    return weights


_SUFFIXES = (
    ("izations", "iz"), ("ization", "iz"), ("isations", "iz"), ("isation", "iz"),
    ("ations", ""), ("ation", ""), ("ements", ""), ("ement", ""), ("ables", ""),
    ("able", ""), ("ibles", ""), ("ible", ""), ("ings", ""), ("ing", ""), ("ers", ""),
    ("er", ""), ("ed", ""), ("ly", ""),
)  # fmt: skip


@functools.lru_cache(maxsize=65536)
def stem(term: str) -> str:
    """A light, conservative English stemmer for matching issue prose to code words.

    ``serialization``, ``serialized``, ``serializable`` and ``serialize`` all become
    ``serializ``; ``skipping`` and ``skips`` become ``skip``; ``parsing`` and
    ``parse`` become ``pars``; ``file`` and ``files`` become ``fil``. Words of three
    letters or fewer and anything with digits are left alone. Both sides of a
    comparison must be stemmed with this same function.

    Args:
        term: One lower-case search term.

    Returns:
        Its stem.
    """
    if len(term) <= 3 or not term.isalpha():
        return term
    word = term
    if word.endswith("ies") and len(word) > 5:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # skipp -> skip, but keep "fill", "pass"
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def path_terms(path: str) -> str:
    """Search terms for a file path (directories, stem and their identifier parts)."""
    return search_terms(re.sub(r"[/.\\-]", " ", path))


def estimate_tokens(text: str) -> int:
    """A model-independent token estimate: about four characters per token."""
    return max(1, (len(text) + 3) // 4)


@dataclass(frozen=True)
class Mentions:
    """Concrete references found in free text (an issue, a commit message).

    Attributes:
        paths: File paths as written (``src/flask/app.py``, ``_core.py``).
        modules: Dotted names that may be modules or attributes (``requests.models``).
        identifiers: Names that look like code: in backticks, called, CamelCase,
            snake_case, or the last part of a dotted name.
        trace_paths: Paths from traceback frames, deepest (most specific) last.
    """

    paths: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    trace_paths: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


def _looks_like_code(name: str) -> bool:
    if len(name) < 3 or name.lower() in CODE_STOPWORDS:
        return False
    has_underscore = "_" in name.strip("_")
    camel = any(c.isupper() for c in name[1:]) and any(c.islower() for c in name)
    return has_underscore or camel or name.startswith("_")


def extract_mentions(text: str) -> Mentions:
    """Find file paths, dotted names, code identifiers and traceback frames in text.

    Args:
        text: Issue or commit text; untrusted, treated purely as data.

    Returns:
        The mentions, each list de-duplicated in order of first appearance.
    """
    counts: dict[str, int] = {}

    def add(bucket: dict[str, None], name: str) -> None:
        bucket.setdefault(name, None)
        counts[name] = counts.get(name, 0) + 1

    paths: dict[str, None] = {}
    modules: dict[str, None] = {}
    idents: dict[str, None] = {}
    traces: dict[str, None] = {}
    for m in _TRACE_FILE.finditer(text):
        add(traces, m.group(1).replace("\\", "/"))
    for m in _TRACE_PATH.finditer(text):
        add(traces, m.group(1).replace("\\", "/"))
    for m in _PATH.finditer(text):
        add(paths, m.group(1))
    for m in _DOTTED.finditer(text):
        name = m.group(1)
        if not re.search(r"\.(?:py|md|rst|txt|com|org|io|html)$", name):
            add(modules, name)
            last = name.rsplit(".", 1)[-1]
            if len(last) >= 3 and last.lower() not in CODE_STOPWORDS:
                add(idents, last)
    for m in _BACKTICK.finditer(text):
        for tok in _IDENT.findall(m.group(1)):
            if len(tok) >= 3 and tok.lower() not in CODE_STOPWORDS:
                add(idents, tok)
    for m in _CALL.finditer(text):
        if _looks_like_code(m.group(1)) or m.group(1)[:1].isupper():
            add(idents, m.group(1))
    for tok in _IDENT.findall(text):
        if _looks_like_code(tok):
            add(idents, tok)
    return Mentions(
        paths=tuple(paths),
        modules=tuple(modules),
        identifiers=tuple(idents),
        trace_paths=tuple(traces),
        counts=counts,
    )


def is_test_path(path: str) -> bool:
    """Whether a repository path is a test file or lives in a tests directory."""
    lower = path.lower()
    name = lower.rsplit("/", 1)[-1]
    parts = lower.split("/")[:-1]
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", "_tests.py", ".test.js", ".spec.js", ".test.ts"))
        or name == "conftest.py"
        or any(p in {"test", "tests", "testing", "testdata", "__tests__"} for p in parts)
    )


def is_doc_path(path: str) -> bool:
    """Whether a path is documentation, an example or a changelog rather than code."""
    lower = path.lower()
    parts = lower.split("/")[:-1]
    name = lower.rsplit("/", 1)[-1]
    return (
        name.endswith((".md", ".rst", ".txt", ".adoc"))
        or any(p in {"doc", "docs", "examples", "example", "changelog.d", "changes"} for p in parts)
        or name.startswith(("changelog", "changes", "history", "news", "authors", "readme"))
    )
