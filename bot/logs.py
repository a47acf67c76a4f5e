"""Structured logs: one JSON object per line, with request/job context bound via contextvars.

Everything that runs for one delivery or one job binds its ``delivery_id`` (and the
job id, forge, repository and subject) with :func:`bound`, and every line logged
inside that block carries them, in whichever thread or task logs it. Secrets are never
passed to a logger: callers log outcomes and reasons, not header values; as a second
net, every line goes through :func:`bot.redact.structlog_processor`, which masks the
process's known secrets and anything shaped like a token.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from bot import redact

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog for the process.

    Args:
        level: Minimum level name (``DEBUG``..``CRITICAL``).
        fmt: ``json`` (one object per line, for machines) or ``console`` (for people).
        stream: Where lines go; standard error by default.
    """
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    threshold = _LEVELS.get(level.upper(), logging.INFO)
    redact.register_environment()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact.structlog_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    # uvicorn and other libraries log through the standard library: render their lines
    # the same way, so the output stays one JSON object per line.
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact.structlog_processor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)


def get_logger(name: str) -> Any:
    """A structlog logger whose lines carry ``component=<name>`` and the bound context.

    The logger is lazy: it picks up :func:`configure_logging` whenever that runs.
    """
    return structlog.get_logger(component=name)


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """Bind ``context`` (e.g. ``delivery_id``, ``job_id``) to every line logged inside.

    Values that are None are left out, so optional fields do not clutter lines.
    """
    values = {k: v for k, v in context.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**values):
        yield
