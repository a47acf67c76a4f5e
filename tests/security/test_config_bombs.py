"""Hostile ``.agentforge/config.yaml``: YAML bombs, recursive aliases, unknown keys.

Each is refused with file and line, fast (the timeout fails a hang; no timing asserts),
and the loader returns no config at all, so nothing half-read is used.
"""

from __future__ import annotations

import pytest

from bot.repoconfig import validate_files
from bot.repoconfig.loader import CONFIG_FILE, MAX_FILE_BYTES

LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def _issues(text: str):
    config, issues = validate_files({CONFIG_FILE: text})
    assert config is None
    return issues


@pytest.mark.timeout(20)
def test_billion_laughs_is_refused_with_a_line() -> None:
    [issue] = _issues(LAUGHS)
    assert issue.file == CONFIG_FILE
    assert issue.line is not None
    assert "expands to more than" in issue.message


@pytest.mark.timeout(20)
def test_billion_laughs_inside_a_known_section_is_refused_too() -> None:
    text = LAUGHS.replace("i: &i", "protected_paths: &i")
    assert "expands to more than" in _issues(text)[0].message


@pytest.mark.timeout(20)
def test_a_recursive_alias_is_refused() -> None:
    [issue] = _issues("index: &x\n  include: [*x]\n")
    assert "nested more than" in issue.message or "expands" in issue.message


def test_unknown_keys_name_file_line_and_field() -> None:
    text = "version: 1\napprovers:\n  infra: [ops]\n  admins: [mallory]\nprotectd_paths: []\n"
    found = {(i.file, i.line, i.field) for i in _issues(text)}
    assert (CONFIG_FILE, 4, "approvers.admins") in found
    assert (CONFIG_FILE, 5, "protectd_paths") in found


def test_an_oversized_file_is_refused_without_parsing() -> None:
    [issue] = _issues("\x00too-large")
    assert str(MAX_FILE_BYTES) in issue.message


def test_bad_policy_values_are_refused() -> None:
    text = "policies:\n  min_permission: superuser\n  deny_paths: src\n"
    fields = {i.field for i in _issues(text)}
    assert {"policies.min_permission", "policies.deny_paths"} <= fields
