"""Chunking along syntax boundaries, and bad file content."""

from __future__ import annotations

import itertools

from bot.context.chunking import (
    MAX_CHUNK_LINES,
    WINDOW_LINES,
    chunk_file,
    classify,
    decode_text,
    is_binary,
)


def test_python_splits_into_loose_statements_classes_and_functions(session_py: str) -> None:
    chunks = chunk_file("pkg/sessions.py", session_py)
    spans = [(c.start_line, c.end_line, c.symbols) for c in chunks]
    assert spans[0][:2] == (1, 5)  # docstring, import, constant
    assert (8, 15, ("Session", "send", "merge_hooks")) in spans
    assert (18, 19, ("make_session",)) in spans
    assert all(c.kind == "code" and c.language == "py" for c in chunks)
    lines = session_py.splitlines()
    for c in chunks:
        assert c.text == "\n".join(lines[c.start_line - 1 : c.end_line])


def test_decorators_belong_to_their_function() -> None:
    src = "import functools\n\n\n@functools.cache\n@other\ndef cached():\n    return 1\n"
    chunk = next(c for c in chunk_file("a.py", src) if c.symbols == ("cached",))
    assert (chunk.start_line, chunk.end_line) == (4, 7)


def test_big_class_is_split_into_header_and_methods() -> None:
    methods = "".join(
        f"    def method_{i}(self):\n" + "        x = 1\n" * 30 + "\n" for i in range(8)
    )
    src = "class Big:\n    '''Doc.'''\n    attr = 1\n\n" + methods
    chunks = chunk_file("big.py", src)
    assert chunks[0].symbols == ("Big",) and chunks[0].start_line == 1
    method_chunks = [c for c in chunks if c.symbols and c.symbols[0].startswith("method_")]
    assert len(method_chunks) == 8
    assert method_chunks[3].symbols == ("method_3", "Big.method_3")
    assert all(c.end_line - c.start_line < MAX_CHUNK_LINES for c in chunks)
    # Spans tile the class without overlap.
    for a, b in itertools.pairwise(chunks):
        assert a.end_line < b.start_line


def test_syntax_error_falls_back_to_windows() -> None:
    src = "def broken(:\n" + "x = 1\n" * 150
    chunks = chunk_file("bad.py", src)
    assert chunks and chunks[0].start_line == 1
    assert chunks[-1].end_line == 151
    assert all(c.end_line - c.start_line + 1 <= WINDOW_LINES for c in chunks)


def test_markdown_breaks_at_headings() -> None:
    src = "# Title\n\nintro\n\n## Usage\n\nrun it\n\nSetup\n=====\n\nsteps\n"
    chunks = chunk_file("README.md", src)
    assert [c.symbols for c in chunks] == [("Title",), ("Usage",), ("Setup",)]
    assert chunks[2].start_line == 9
    assert {c.kind for c in chunks} == {"doc"}


def test_empty_and_whitespace_files_have_no_chunks() -> None:
    assert chunk_file("empty.py", "") == []
    assert chunk_file("blank.txt", "  \n\n\t\n") == []


def test_binary_detection_and_decoding() -> None:
    assert is_binary(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert not is_binary("héllo".encode())
    assert decode_text("héllo".encode()) == "héllo"
    assert decode_text(b"\xef\xbb\xbfbom") == "bom"
    # Latin-1 bytes that are not valid UTF-8 still decode, without raising.
    assert decode_text(b"caf\xe9") == "café"


def test_classify_kinds() -> None:
    assert classify("tests/test_a.py") == ("test", "py")
    assert classify("docs/guide.rst") == ("doc", "rst")
    assert classify("src/app.go") == ("code", "go")
    assert classify("Makefile") == ("text", "")
