"""CODEOWNERS: who owns the paths a phase changed, in GitHub's or GitLab's syntax.

Reading a file is :func:`parse`; which owners must approve a set of paths is
:func:`requirements`. Both are pure (the shell reads the file at the default branch's
head and resolves teams through the forge).

Path matching is the ``codeowners`` library's (a port of the GitHub matcher used by
hmarr/codeowners; last matching line wins). The library reads a file leniently: it
drops owner words it does not understand, keeps GitLab section names but not their
approval counts, default owners or optional mark, and has no exclusions. So this
module parses the lines itself, stopping at the first malformed one with
:class:`bot.errors.CodeOwnersError` (file and line), and hands the library only the
patterns of one section at a time, at their original line numbers, to match.

=========================  ===============================  ===========================
syntax                     GitHub                           GitLab (and the local forge)
=========================  ===============================  ===========================
where                      ``.github/``, root, ``docs/``    root, ``docs/``, ``.gitlab/``
owners                     ``@user``, ``@org/team``, email  ``@user``, ``@group/sub``,
                                                            ``@@developer``..., email
sections                   none (a ``[`` is an error)       ``[Name]``, ``^[Optional]``,
                                                            ``[Name][2]``, default owners
negation ``!``             an error                         an exclusion in its section
which line counts          the last match in the file       the last match in each
                                                            section; every non-optional
                                                            section must approve
=========================  ===============================  ===========================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from codeowners import CodeOwners

from bot.errors import CodeOwnersError

Syntax = Literal["github", "gitlab"]
OwnerKind = Literal["user", "team", "email", "role"]

LOCATIONS: dict[str, tuple[str, ...]] = {
    "github": (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"),
    "gitlab": ("CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"),
    "local": (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"),
}
"""Where each forge looks for the file, in its order: the first that exists is used."""

ROLE_OWNERS = ("developer", "maintainer", "owner")
"""GitLab's role owners (``@@developer``...): everyone with at least that role."""

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_GITHUB_OWNER = re.compile(rf"@({_NAME})(/{_NAME})?")
_GITLAB_OWNER = re.compile(rf"@({_NAME})((?:/{_NAME})*)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SECTION = re.compile(r"(\^)?\[([^\[\]]*)\](?:\[([^\[\]]*)\])?(?:\s+(.*))?")
_ESCAPED_SPACE = "\x00"


def syntax_for(forge: str) -> Syntax:
    """The CODEOWNERS syntax a forge reads (``github`` for GitHub, else GitLab's)."""
    return "github" if forge == "github" else "gitlab"


@dataclass(frozen=True)
class Owner:
    """One owner named on a CODEOWNERS line.

    Attributes:
        kind: ``user`` (``@login``), ``team`` (``@org/team``, ``@group/sub``; on GitLab
            also ``@group``, which may name a user or a group), ``email`` or ``role``
            (GitLab's ``@@developer``...).
        name: The login, team path, email address or role name, without ``@``.
    """

    kind: OwnerKind
    name: str

    def __str__(self) -> str:
        if self.kind == "email":
            return self.name
        return f"@@{self.name}" if self.kind == "role" else f"@{self.name}"


@dataclass(frozen=True)
class Section:
    """A GitLab section (the whole file is one unnamed section in GitHub's syntax).

    Attributes:
        name: The section's name (None: lines before any header).
        optional: ``^[Name]``: its owners are shown, not required.
        approvals: How many of its owners must approve (``[Name][2]``; default 1).
        line: The header's line (0 for the unnamed section).
    """

    name: str | None = None
    optional: bool = False
    approvals: int = 1
    line: int = 0


@dataclass(frozen=True)
class Rule:
    """One pattern line.

    Attributes:
        pattern: The path pattern as written (without a leading ``!``).
        owners: Its owners (a GitLab section's default owners when it names none).
        line: Its line in the file.
        section: The section it belongs to.
        exclude: A GitLab ``!pattern``: matching paths have no owners in this section.
    """

    pattern: str
    owners: tuple[Owner, ...]
    line: int
    section: Section
    exclude: bool = False


@dataclass(frozen=True)
class Requirement:
    """Owners who must approve some of the changed paths.

    Attributes:
        path: The CODEOWNERS file it comes from.
        rule: The line that owns the paths.
        paths: The changed paths the line owns.
        approvals: How many distinct owners must approve (0: optional section).
    """

    path: str
    rule: Rule
    paths: tuple[str, ...]
    approvals: int

    @property
    def owners(self) -> tuple[Owner, ...]:
        """The owners who may approve these paths."""
        return self.rule.owners

    def describe(self) -> str:
        """In words: ``code owners of `src/` [Backend] (CODEOWNERS:4: @a, @b, 2 needed)``."""
        where = f"{self.path}:{self.rule.line}"
        section = f" [{self.rule.section.name}]" if self.rule.section.name else ""
        owners = ", ".join(str(o) for o in self.owners) or "no one"
        need = f", {self.approvals} needed" if self.approvals > 1 else ""
        return f"code owners of `{self.rule.pattern}`{section} ({where}: {owners}{need})"


@dataclass(frozen=True)
class CodeOwnersFile:
    """A parsed CODEOWNERS file.

    Attributes:
        path: Where it was read (named in errors and requirements).
        syntax: ``github`` or ``gitlab``.
        rules: Every pattern line, in file order.
    """

    path: str
    syntax: Syntax
    rules: tuple[Rule, ...]
    _matchers: dict[str, tuple[Section, CodeOwners]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def owning_rules(self, path: str) -> list[Rule]:
        """The rule that owns ``path`` in each section (exclusions included)."""
        by_line = {rule.line: rule for rule in self.rules}
        found: list[Rule] = []
        for _section, matcher in self._matchers.values():
            _owners, line, _pattern, _name = matcher.matching_line(path)
            if line is not None:
                found.append(by_line[line])
        return found


def parse(text: str, *, path: str, syntax: Syntax) -> CodeOwnersFile:
    """Read a CODEOWNERS file.

    Args:
        text: The file's content.
        path: Its path in the repository (for errors).
        syntax: ``github`` or ``gitlab``.

    Raises:
        CodeOwnersError: a line is malformed (its path and line number are named).
    """
    section = Section()
    defaults: tuple[Owner, ...] = ()
    sections: dict[str, Section] = {"": section}
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if syntax == "gitlab" and (line.startswith("[") or line.startswith("^[")):
            section, defaults = _section(line, path, number)
            key = section.name.lower() if section.name else ""
            # GitLab merges sections of one name (case-insensitive); the first header's
            # settings stand.
            section = sections.setdefault(key, section)
            continue
        rules.append(_rule(line, path, number, syntax, section, defaults))
    return CodeOwnersFile(path, syntax, tuple(rules), _build_matchers(rules, path))


def _section(line: str, path: str, number: int) -> tuple[Section, tuple[Owner, ...]]:
    found = _SECTION.fullmatch(line)
    if found is None:
        raise CodeOwnersError(
            path,
            number,
            f"malformed section header {line!r} (expected [Name], ^[Name] "
            "or [Name][2], then optional default owners)",
        )
    optional, name, count, rest = found.groups()
    name = name.strip()
    if not name:
        raise CodeOwnersError(path, number, "a section needs a name between [ and ]")
    approvals = 1
    if count is not None:
        if not count.strip().isdigit() or int(count) < 1:
            raise CodeOwnersError(
                path, number, f"section [{name}]: approvals [{count}] must be a number >= 1"
            )
        approvals = int(count)
    owners = _owners((rest or "").split(), path, number, "gitlab")
    return Section(name, bool(optional), approvals, number), owners


def _rule(line: str, path: str, number: int, syntax: Syntax, section: Section, defaults) -> Rule:
    words = line.replace("\\ ", _ESCAPED_SPACE).split()
    pattern = words[0].replace(_ESCAPED_SPACE, "\\ ")
    exclude = False
    if pattern.startswith("!"):
        if syntax == "github":
            raise CodeOwnersError(path, number, "negation (!) is not supported by GitHub")
        exclude, pattern = True, pattern[1:]
    if pattern.startswith("\\#") and syntax == "github":
        raise CodeOwnersError(path, number, "escaping # is not supported by GitHub")
    if syntax == "github" and ("[" in pattern or "]" in pattern):
        raise CodeOwnersError(
            path, number, f"{pattern!r}: character ranges [ ] are not supported by GitHub"
        )
    if not pattern or pattern == "/":
        raise CodeOwnersError(path, number, f"{words[0]!r} is not a path pattern")
    rest: list[str] = []
    for word in words[1:]:
        if word.startswith("#"):
            break  # the rest of the line is a comment
        rest.append(word)
    owners = _owners(rest, path, number, syntax)
    if exclude and owners:
        raise CodeOwnersError(path, number, f"the exclusion !{pattern} cannot name owners")
    if not owners and not exclude:
        owners = defaults
    return Rule(pattern, owners, number, section, exclude)


def _owners(words: list[str], path: str, number: int, syntax: Syntax) -> tuple[Owner, ...]:
    out: list[Owner] = []
    for word in words:
        owner = _owner(word, syntax)
        if owner is None:
            shapes = (
                "@user, @org/team or an email address"
                if syntax == "github"
                else "@user, @group, @group/subgroup, @@developer/@@maintainer/@@owner "
                "or an email address"
            )
            raise CodeOwnersError(path, number, f"{word!r} is not an owner ({shapes})")
        if owner not in out:
            out.append(owner)
    return tuple(out)


def _owner(word: str, syntax: Syntax) -> Owner | None:
    if syntax == "gitlab" and word.startswith("@@"):
        role = word[2:].lower()
        return Owner("role", role) if role in ROLE_OWNERS else None
    if word.startswith("@"):
        pattern = _GITHUB_OWNER if syntax == "github" else _GITLAB_OWNER
        found = pattern.fullmatch(word)
        if found is None:
            return None
        kind: OwnerKind = "team" if found.group(2) else "user"
        return Owner(kind, word[1:])
    if _EMAIL.fullmatch(word):
        return Owner("email", word)
    return None


def _build_matchers(rules: list[Rule], path: str) -> dict[str, tuple[Section, CodeOwners]]:
    """One library matcher per section, holding only its patterns at their lines."""
    by_section: dict[str, tuple[Section, list[Rule]]] = {}
    for rule in rules:
        key = (rule.section.name or "").lower()
        by_section.setdefault(key, (rule.section, []))[1].append(rule)
    matchers: dict[str, tuple[Section, CodeOwners]] = {}
    for key, (section, members) in by_section.items():
        last = max(r.line for r in members)
        lines = [""] * last
        for rule in members:
            lines[rule.line - 1] = rule.pattern
        try:
            matchers[key] = (section, CodeOwners("\n".join(lines)))
        except ValueError as exc:
            # The library refuses some patterns (an unterminated [ class); find which.
            for rule in members:
                try:
                    CodeOwners(rule.pattern)
                except ValueError:
                    raise CodeOwnersError(path, rule.line, str(exc)) from exc
            raise CodeOwnersError(path, members[0].line, str(exc)) from exc
    return matchers


def requirements(file: CodeOwnersFile, paths: list[str]) -> list[Requirement]:
    """Which owners must approve ``paths``: one requirement per owning line.

    A path owned by a line with no owners (or excluded in a section) needs no one
    there. Optional GitLab sections give requirements with ``approvals == 0``.
    """
    grouped: dict[int, list[str]] = {}
    rules: dict[int, Rule] = {}
    for changed in sorted(set(paths)):
        for rule in file.owning_rules(changed.lstrip("/")):
            if rule.exclude or not rule.owners:
                continue
            grouped.setdefault(rule.line, []).append(changed)
            rules[rule.line] = rule
    out: list[Requirement] = []
    for line in sorted(grouped):
        rule = rules[line]
        approvals = 0 if rule.section.optional else rule.section.approvals
        out.append(Requirement(file.path, rule, tuple(grouped[line]), approvals))
    return out
