"""Verdicts: what a policy says about one proposed action, and how verdicts combine.

A verdict is ordered ``skip < allow < needs_approval < deny``; when several policies
judge the same action, the worst verdict wins (:func:`worst`). ``skip`` means "this
policy has no opinion" (it does not apply to the action), so an action that every
policy skips is allowed. The executor applies an action only when the combined
verdict is ``skip`` or ``allow``.

A *judge* is any callable ``judge(action) -> Verdict``; :func:`allow_all` is the
default and :func:`combine` turns several judges into one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from bot.actions import Action


class Decision(IntEnum):
    """A policy's answer, ordered from most to least permissive."""

    SKIP = 0
    ALLOW = 1
    NEEDS_APPROVAL = 2
    DENY = 3


@dataclass(frozen=True)
class Verdict:
    """One policy's decision about one action.

    Attributes:
        decision: The answer.
        reason: Why (shown to people in the audit log and job results).
        policy: Which policy decided (empty when unknown).
    """

    decision: Decision
    reason: str = ""
    policy: str = ""

    @classmethod
    def skip(cls, reason: str = "", policy: str = "") -> Verdict:
        """The policy does not apply to this action."""
        return cls(Decision.SKIP, reason, policy)

    @classmethod
    def allow(cls, reason: str = "", policy: str = "") -> Verdict:
        """The action may be applied."""
        return cls(Decision.ALLOW, reason, policy)

    @classmethod
    def needs_approval(cls, reason: str, policy: str = "") -> Verdict:
        """The action may be applied only after a person approves it."""
        return cls(Decision.NEEDS_APPROVAL, reason, policy)

    @classmethod
    def deny(cls, reason: str, policy: str = "") -> Verdict:
        """The action must not be applied."""
        return cls(Decision.DENY, reason, policy)

    @property
    def permits(self) -> bool:
        """Whether the action may be applied now (``skip`` or ``allow``)."""
        return self.decision <= Decision.ALLOW


Judge = Callable[[Action], Verdict]
"""A callable that judges one proposed action."""


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most restrictive verdict; the first one wins a tie. No verdicts: allow."""
    result: Verdict | None = None
    for verdict in verdicts:
        if result is None or verdict.decision > result.decision:
            result = verdict
    return result if result is not None else Verdict.allow()


def allow_all(action: Action) -> Verdict:
    """The default judge: every action is allowed."""
    return Verdict.allow("no policy configured", "default")


def combine(*judges: Judge) -> Judge:
    """One judge that asks every judge and returns the worst verdict."""

    def judge(action: Action) -> Verdict:
        return worst(j(action) for j in judges)

    return judge
