"""Split files into searchable chunks along syntax boundaries.

Python is split with :mod:`ast`: one chunk per top-level function or class (with its
decorators), large classes into a header chunk plus one chunk per method, and the
module's loose statements (imports, constants) grouped in windows. Markdown and
reStructuredText break at headings; any other text is cut into windows of lines that
prefer to end at a blank line. Binary content is never chunked.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from bot.context.text import is_doc_path, is_test_path

WINDOW_LINES = 60
MAX_CHUNK_LINES = 150
_SOURCE_EXT = {
    "py", "pyi", "js", "jsx", "ts", "tsx", "go", "rs", "java", "kt", "c", "h", "cc", "cpp",
    "hpp", "cs", "rb", "php", "swift", "scala", "sh", "bash", "sql", "lua", "pl", "r",
}  # fmt: skip
_DOC_EXT = {"md", "rst", "txt", "adoc"}
_HEADING = re.compile(r"^(#{1,6}\s|[=\-~^\"'`#*+]{3,}\s*$)")


@dataclass(frozen=True)
class Chunk:
    """One searchable piece of a file.

    Attributes:
        path: Repository-relative path with ``/`` separators.
        start_line: First line, 1-based.
        end_line: Last line, inclusive.
        kind: ``code``, ``test``, ``doc`` or ``text``.
        language: File extension without the dot (``py``), or ``""``.
        symbols: Names defined in the chunk (``Session``, ``Session.send``).
        text: The chunk's text.
    """

    path: str
    start_line: int
    end_line: int
    kind: str
    language: str
    symbols: tuple[str, ...]
    text: str


def is_binary(data: bytes) -> bool:
    """Heuristic used by git itself: a NUL byte in the first 8000 bytes means binary."""
    return b"\x00" in data[:8000]


def decode_text(data: bytes) -> str:
    """Decode file bytes: UTF-8 (with or without BOM), else Latin-1, which never fails."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def classify(path: str) -> tuple[str, str]:
    """Return ``(kind, language)`` for a path."""
    name = path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if is_test_path(path):
        kind = "test"
    elif ext in _DOC_EXT or (ext not in _SOURCE_EXT and is_doc_path(path)):
        kind = "doc"
    elif ext in _SOURCE_EXT:
        kind = "code"
    else:
        kind = "text"
    return kind, ext


def chunk_file(path: str, text: str) -> list[Chunk]:
    """Split one file's text into chunks.

    Args:
        path: Repository-relative path (decides kind and language).
        text: The decoded file content.

    Returns:
        Chunks in file order; empty for an empty or whitespace-only file.
    """
    if not text.strip():
        return []
    kind, language = classify(path)
    lines = text.splitlines()
    spans: list[tuple[int, int, tuple[str, ...]]] | None = None
    if language in {"py", "pyi"}:
        spans = _python_spans(text, len(lines))
    elif language in {"md", "rst"}:
        spans = _heading_spans(lines)
    if spans is None:
        spans = _window_spans(lines, 1, len(lines), ())
    chunks = []
    for start, end, symbols in spans:
        body = "\n".join(lines[start - 1 : end])
        if body.strip():
            chunks.append(Chunk(path, start, end, kind, language, symbols, body))
    return chunks


def _window_spans(
    lines: list[str], start: int, end: int, symbols: tuple[str, ...]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Windows of about WINDOW_LINES lines over ``start..end``, ending at a blank line."""
    spans = []
    pos = start
    while pos <= end:
        stop = min(end, pos + WINDOW_LINES - 1)
        if stop < end:
            # Prefer to cut at the last blank line in the second half of the window.
            for cut in range(stop, pos + WINDOW_LINES // 2, -1):
                if not lines[cut - 1].strip():
                    stop = cut
                    break
        spans.append((pos, stop, symbols))
        pos = stop + 1
    return spans


def _heading_spans(lines: list[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Sections between headings, each windowed if long; the heading is the symbol."""
    starts = [1]
    for i, line in enumerate(lines, start=1):
        if i > 1 and _HEADING.match(line):
            # An underline heading (rst, setext) belongs with the line above it.
            start = i - 1 if re.match(r"^[=\-~^\"'`#*+]{3,}\s*$", line) else i
            if start > starts[-1]:
                starts.append(start)
    spans = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(lines)
        title = lines[start - 1].strip("#=-~ \t")[:80]
        spans.extend(_window_spans(lines, start, end, (title,) if title else ()))
    return spans


def _node_start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators])


def _python_spans(text: str, n_lines: int) -> list[tuple[int, int, tuple[str, ...]]] | None:
    """Spans for Python source, or None if it does not parse (then windows are used)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    loose_start: int | None = None
    loose_end = 0
    lines = text.splitlines()

    def flush_loose() -> None:
        nonlocal loose_start
        if loose_start is not None:
            spans.extend(_window_spans(lines, loose_start, loose_end, ()))
            loose_start = None

    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        end = node.end_lineno or node.lineno
        if not isinstance(node, defs):
            if loose_start is None:
                loose_start = _node_start(node)
            loose_end = end
            continue
        flush_loose()
        start = _node_start(node)
        if isinstance(node, ast.ClassDef) and end - start + 1 > MAX_CHUNK_LINES:
            spans.extend(_class_spans(node, start, end, lines))
        elif end - start + 1 > MAX_CHUNK_LINES:
            spans.extend(_window_spans(lines, start, end, (node.name,)))
        elif isinstance(node, ast.ClassDef):
            methods = [n.name for n in node.body if isinstance(n, defs)]
            spans.append((start, end, (node.name, *methods)))
        else:
            spans.append((start, end, (node.name,)))
    flush_loose()
    return spans if spans or n_lines == 0 else None


def _class_spans(
    node: ast.ClassDef, start: int, end: int, lines: list[str]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """A big class: its header (up to the first method) and one span per method."""
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    header_end = _node_start(methods[0]) - 1 if methods else end
    spans.extend(_window_spans(lines, start, max(start, header_end), (node.name,)))
    pos = header_end + 1
    for i, method in enumerate(methods):
        m_start = max(pos, _node_start(method))
        m_end = (_node_start(methods[i + 1]) - 1) if i + 1 < len(methods) else end
        symbols = (method.name, f"{node.name}.{method.name}")
        if m_end - m_start + 1 > MAX_CHUNK_LINES:
            spans.extend(_window_spans(lines, m_start, m_end, symbols))
        elif m_end >= m_start:
            spans.append((m_start, m_end, symbols))
        pos = m_end + 1
    return spans
