"""The ``final_answer`` tool: how a role ends, with typed fields instead of prose.

smolagents ends a run when the model calls a tool named ``final_answer``; ours takes
typed inputs (summary, confidence and its reasons, covered acceptance criteria,
questions, and the reviewer's verdict and findings) and returns a validated
:class:`FinalAnswer`, so nothing downstream parses free text. A malformed call (a
confidence of 7, an unknown verdict) is a tool error the model sees and corrects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from smolagents import Tool

from agents.roles.contract import ReviewVerdict


class FinalAnswer(BaseModel):
    """What a role reports when it finishes (see :class:`RoleResult` for the fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    confidence_reasons: list[str] = Field(default_factory=list)
    covered: dict[str, list[str]] = Field(default_factory=dict)
    questions: list[str] = Field(default_factory=list)
    verdict: ReviewVerdict | None = None
    findings: list[str] = Field(default_factory=list)


class FinalAnswerTool(Tool):
    """``final_answer(summary, confidence, ...)`` → :class:`FinalAnswer`."""

    name = "final_answer"
    description = (
        "Finish the task. Call it once, alone, after your files are written. "
        "summary: a few sentences for the merge request; confidence: 0 to 1; "
        "confidence_reasons: why; covered: acceptance-criterion id (AC-1...) to the "
        "tests that check it; questions: anything a person should answer; verdict and "
        "findings: only for a review (pass / changes / escalate, findings as "
        "'path:line: problem')."
    )
    inputs = {
        "summary": {"type": "string", "description": "What you did, for the merge request."},
        "confidence": {"type": "number", "description": "Your confidence in the work, 0 to 1."},
        "confidence_reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Reasons for that confidence.",
            "nullable": True,
        },
        "covered": {
            "type": "object",
            "description": 'Acceptance-criterion id to test names: {"AC-1": ["tests/x.py::t"]}.',
            "nullable": True,
        },
        "questions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Questions for a person, if any.",
            "nullable": True,
        },
        "verdict": {
            "type": "string",
            "enum": ["pass", "changes", "escalate"],
            "description": "Review verdict (reviewer role only).",
            "nullable": True,
        },
        "findings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Review findings, each 'path:line: problem' (reviewer role only).",
            "nullable": True,
        },
    }
    output_type = "object"

    def forward(
        self,
        summary: str,
        confidence: float,
        confidence_reasons: list | None = None,
        covered: dict | None = None,
        questions: list | None = None,
        verdict: str | None = None,
        findings: list | None = None,
    ) -> Any:
        """Validate the answer; a ValueError is shown to the model as a tool error."""
        data = {
            "summary": summary,
            "confidence": confidence,
            "confidence_reasons": confidence_reasons or [],
            "covered": covered or {},
            "questions": questions or [],
            "verdict": verdict,
            "findings": findings or [],
        }
        try:
            return FinalAnswer.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"final_answer was called with invalid fields: {problems}") from exc
