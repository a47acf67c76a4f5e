"""CODEOWNERS in GitHub's and GitLab's syntax: who owns which path, and bad lines."""

from __future__ import annotations

import pytest

from bot.errors import CodeOwnersError
from policies.codeowners import LOCATIONS, Owner, parse, requirements, syntax_for

GITHUB = """\
# comment
*            @acme/everyone
/src/        @acme/backend @alice   # trailing comment
*.md         docs@example.com
/src/gen/
/a\\ b.txt    @spacey
"""


def owners_of(text: str, path: str, syntax: str = "github") -> list[list[str]]:
    file = parse(text, path="CODEOWNERS", syntax=syntax)
    return [[str(o) for o in r.owners] for r in requirements(file, [path])]


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README", [["@acme/everyone"]]),
        ("src/app.py", [["@acme/backend", "@alice"]]),
        ("src/README.md", [["docs@example.com"]]),  # the last matching line wins
        ("src/gen/x.py", []),  # a line without owners: nobody's approval needed
        ("a b.txt", [["@spacey"]]),
        ("lib/src/x.py", [["@acme/everyone"]]),  # /src/ is anchored at the root
    ],
)
def test_github_last_match_wins(path, owners):
    assert owners_of(GITHUB, path) == owners


GITLAB = """\
* @default
[Backend][2] @backend-team
src/
!src/generated/
lib/ @carol @@maintainer
^[Docs] @writer
docs/
[backend]
api/ @api-group/sub
"""


def test_gitlab_sections_counts_defaults_exclusions_and_optional():
    file = parse(GITLAB, path=".gitlab/CODEOWNERS", syntax="gitlab")
    got = {
        (r.rule.pattern, r.rule.section.name, r.approvals, tuple(map(str, r.owners)))
        for r in requirements(file, ["src/a.py", "src/generated/b.py", "docs/x.md", "api/y"])
    }
    assert got == {
        ("*", None, 1, ("@default",)),
        ("src/", "Backend", 2, ("@backend-team",)),  # default owners of the section
        ("docs/", "Docs", 0, ("@writer",)),  # optional: shown, never required
        ("api/", "Backend", 2, ("@api-group/sub",)),  # [backend] merges into [Backend]
    }
    lib = requirements(file, ["lib/z"])
    assert {tuple(map(str, r.owners)) for r in lib} == {("@default",), ("@carol", "@@maintainer")}
    assert Owner("role", "maintainer") in lib[-1].owners


@pytest.mark.parametrize(
    ("line", "syntax", "says"),
    [
        ("src/ alice", "github", "'alice' is not an owner"),
        ("src/ @a/b/c", "github", "'@a/b/c' is not an owner"),
        ("!src/ @a", "github", "negation"),
        ("src/[ab].py @a", "github", "character ranges"),
        ("[Section] @a", "github", "character ranges"),
        ("\\#file @a", "github", "escaping #"),
        ("[S][0] @a", "gitlab", "must be a number >= 1"),
        ("[S][two] @a", "gitlab", "must be a number >= 1"),
        ("[S]x", "gitlab", "malformed section header"),
        ("[] @a", "gitlab", "needs a name"),
        ("!src/ @a", "gitlab", "cannot name owners"),
        ("src/ @@nobody", "gitlab", "'@@nobody' is not an owner"),
        ("a/[b @x", "gitlab", "unterminated character class"),
    ],
)
def test_bad_lines_name_file_and_line(line, syntax, says):
    with pytest.raises(CodeOwnersError) as caught:
        parse(f"# owners\n* @ok\n{line}\n", path="docs/CODEOWNERS", syntax=syntax)
    error = caught.value
    assert (error.path, error.line) == ("docs/CODEOWNERS", 3)
    assert str(error).startswith("docs/CODEOWNERS:3: ")
    assert says in error.problem


def test_where_each_forge_looks_and_which_syntax():
    assert LOCATIONS["github"] == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
    assert LOCATIONS["gitlab"][-1] == ".gitlab/CODEOWNERS"
    assert (syntax_for("github"), syntax_for("gitlab"), syntax_for("local")) == (
        "github",
        "gitlab",
        "gitlab",
    )


def test_requirement_describe_names_the_line_and_count():
    file = parse("[App][2] @a @b\nsrc/\n", path="CODEOWNERS", syntax="gitlab")
    (req,) = requirements(file, ["src/x"])
    assert req.describe() == "code owners of `src/` [App] (CODEOWNERS:2: @a, @b, 2 needed)"
