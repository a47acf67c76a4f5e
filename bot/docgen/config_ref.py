"""``docs/configuration.md``: every configuration key, generated from the models.

Sources: :class:`bot.repoconfig.schema.RepoConfig` (``config.yaml``, with the model-layer
sections of :mod:`bot.repoconfig.models`), :class:`~bot.repoconfig.schema.WorkflowConfig`
(``workflow.yaml``), :class:`~bot.repoconfig.schema.RoleSpec` (a role file's front
matter) and :class:`bot.settings.Settings` (``AGENTFORGE_*``), plus the shipped model
defaults and price table.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_settings import NoDecode

from bot.docgen.fields import Override, Row, Section, body, render_default, walk
from bot.repoconfig.models import shipped_prices
from bot.repoconfig.schema import KNOWN_TOOLS, RepoConfig, RoleSpec, WorkflowConfig
from bot.settings import ENV_PREFIX, SETTINGS_FILE_ENV, Settings

COMMAND = "python -m bot.docgen"
"""The command that regenerates every generated page."""

PLACEHOLDERS: dict[tuple[str, str], str] = {
    ("ModelsConfig", "providers"): "<provider>",
    ("ModelsConfig", "routes"): "<role>",
    ("McpConfig", "servers"): "<server>",
    ("PricesConfig", "root"): "<model>",
}
"""How a mapping's keys are shown in key paths (``<name>`` for any not listed)."""

OVERRIDES: dict[tuple[str, str], Override] = {
    # bot/repoconfig/loader.py fills these from the file itself, not from front matter.
    ("RoleSpec", "name"): Override(
        default="the file name",
        note="Must equal the file name without `.md` when given.",
    ),
    ("RoleSpec", "tools"): Override(
        allowed="each one of " + ", ".join(f"`{t}`" for t in KNOWN_TOOLS),
        note="`final_answer` is always available. MCP tools are granted in `config.yaml` "
        "(`mcp.servers.<server>.roles`), not here.",
    ),
    ("RoleSpec", "template"): Override(skip=True),
    # Until the model describes them itself (its docstring is being extended elsewhere).
    ("ApproversConfig", "users"): Override(
        fallback="Forge logins that are approvers whatever their permission."
    ),
    ("ApproversConfig", "min_permission"): Override(
        fallback="The lowest repository permission that makes someone an approver "
        "(GitLab's Developer counts as `write`, Maintainer as `maintain`)."
    ),
    ("RoleSpec", "template_line"): Override(skip=True),
}
"""What the loader does beyond the models (see :class:`~bot.docgen.fields.Override`)."""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(rows: list[Row], key_header: str = "key") -> list[str]:
    out = [
        f"| {key_header} | type | default | allowed | description |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        kind = row.type + (" (table below)" if row.section else "")
        out.append(
            f"| `{row.key}` | {_cell(kind)} | {_cell(row.default)} | {_cell(row.allowed)} "
            f"| {_cell(row.description)} |"
        )
    return out


def _long_defaults(rows: list[Row]) -> list[str]:
    out: list[str] = []
    for row in rows:
        if row.long_default is None:
            continue
        dumped = yaml.safe_dump(
            {row.key.rsplit(".", 1)[-1]: row.long_default},
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=None,
            width=88,
        )
        out += ["", f"Default of `{row.key}`:", "", "```yaml", dumped.rstrip(), "```"]
    return out


def _sections(title_level: str, sections: list[Section], top_title: str) -> list[str]:
    out: list[str] = []
    for section in sections:
        title = f"`{section.path}`" if section.path else top_title
        out += ["", f"{title_level} {title}", ""]
        # A file's top level is introduced by the file's own heading.
        text = body(section.model) if section.path else ""
        if text:
            out += [text, ""]
        out += _table(section.rows)
        out += _long_defaults(section.rows)
    return out


def _intro(model: type[BaseModel], fallback: str) -> str:
    """The model's docstring without a first paragraph that only names the file."""
    paragraphs = body(model).split("\n\n")
    if paragraphs and re.fullmatch(r"`\.agentforge/[^`]+`\.?", paragraphs[0].strip()):
        paragraphs = paragraphs[1:]
    return "\n\n".join(p for p in paragraphs if p) or fallback


def _file_part(
    heading: str, intro: str, model: type[BaseModel], top_title: str = "Top level"
) -> list[str]:
    sections = walk(model, placeholders=PLACEHOLDERS, overrides=OVERRIDES)
    return ["", f"## {heading}", "", intro, *_sections("###", sections, top_title)]


def _settings_part() -> list[str]:
    rows: list[Row] = []
    described = {s.path: s for s in walk(Settings, bare_strings=True)}[""].rows
    by_key = {row.key: row for row in described}
    for name, info in Settings.model_fields.items():
        row = by_key[info.alias or name]
        kind = row.type
        if NoDecode in info.metadata or any(m is NoDecode for m in info.metadata):
            kind = "comma-separated " + kind
        default, _ = render_default(info, bare_strings=True)
        rows.append(
            Row(
                key=f"{ENV_PREFIX}{name.upper()}",
                type=kind,
                default=default,
                allowed=row.allowed,
                description=row.description,
            )
        )
    return [
        "",
        "## Process settings: `AGENTFORGE_*`",
        "",
        body(Settings),
        "",
        f"Each setting is an environment variable, or a key (the name in lower case, without "
        f"`{ENV_PREFIX}`) in the YAML or TOML file named by `{SETTINGS_FILE_ENV}`; the "
        f"environment wins over the file. `agentforge serve`, `run`, `doctor` and `jobs` "
        f"read them; a bad value stops the command with the variable's name and what is "
        f"expected.",
        "",
        *_table(rows, key_header="variable"),
    ]


def _shipped_part() -> list[str]:
    models_yaml = (
        resources.files("agents.defaults").joinpath("models.yaml").read_text(encoding="utf-8")
    )
    prices: dict[str, Any] = shipped_prices()
    out = [
        "",
        "## Shipped defaults",
        "",
        "`models.providers` and `models.routes` start from `agents/defaults/models.yaml` "
        "(unless `models.use_shipped_defaults: false`); a repository overrides providers "
        "field by field and routes role by role:",
        "",
        "```yaml",
        models_yaml.rstrip(),
        "```",
        "",
        "`prices` starts from `agents/defaults/prices.yaml` (USD per million tokens); a "
        "repository's entries replace the shipped ones model by model. A model id that "
        "extends a listed one with `-` (a dated snapshot) uses its price.",
        "",
        "| model | input | output | cached input |",
        "|---|---|---|---|",
    ]
    for model, price in prices.items():
        cached = price.get("cached_input")
        out.append(
            f"| `{model}` | {price['input']} | {price['output']} | "
            f"{'' if cached is None else cached} |"
        )
    return out


HEADER = f"""# Configuration reference

<!-- Generated by `{COMMAND}` from the pydantic models; do not edit by hand.
     Change a Field(description=...) or the class docstring's Attributes section, then
     run `{COMMAND}`. tests/unit/test_docs_config_reference.py fails when this is stale. -->

Every key AgentForge reads, generated from the models that validate it
(`bot/repoconfig/schema.py`, `bot/repoconfig/models.py`, `bot/settings.py`). Regenerate
with `{COMMAND}`.

A repository's `.agentforge/` files are read at the head of its **default branch**, so a
merge request cannot loosen its own rules. A missing file means all defaults; an unknown
key is an error (a typo is reported, never ignored). Check a checkout before you push:

```bash
agentforge config check [PATH]   # every problem as file:line: field: message (exit 1)
agentforge config show [PATH]    # the effective configuration, defaults included
```

In the tables, `<name>`-style parts of a key are yours to choose (a provider's or a
role's name), and `[]` marks the items of a list. "required" means the key must be
written; `null` is YAML's null (for budgets: no limit)."""


def render_configuration() -> str:
    """The full text of ``docs/configuration.md``."""
    parts = [HEADER]
    parts += _file_part(
        "`.agentforge/config.yaml`",
        _intro(
            RepoConfig,
            "The repository's settings: the top-level keys first, then one table per section.",
        ),
        RepoConfig,
    )
    parts += _file_part(
        "`.agentforge/workflow.yaml`",
        _intro(WorkflowConfig, "The phases of a run; `docs/workflow.md` explains the flow."),
        WorkflowConfig,
    )
    parts += _file_part(
        "Role files: `.agentforge/roles/<name>.md`",
        "A role file is YAML front matter between two `---` lines, then the prompt "
        "template (the file's body). These are the front-matter keys; how to write the "
        "template is in `docs/prompts.md` and `docs/roles.md`.",
        RoleSpec,
        top_title="Front matter",
    )
    parts += _settings_part()
    parts += _shipped_part()
    return "\n".join(parts).rstrip() + "\n"
