"""The generated docs are current, and the generator follows every shape a model can take."""

from __future__ import annotations

import difflib
import re
import typing
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import AfterValidator, BaseModel, Field, RootModel

from bot.docgen import COMMAND, ROOT, generated, main
from bot.docgen.fields import Override, docstring_attributes, markdown, walk
from bot.docgen.metrics_ref import render_metrics, splice
from bot.metrics import Metrics
from bot.repoconfig.schema import RepoConfig, RoleSpec, WorkflowConfig
from bot.settings import Settings


def test_generated_docs_are_current() -> None:
    stale = []
    for path, text in generated(ROOT).items():
        on_disk = path.read_text(encoding="utf-8") if path.exists() else ""
        if on_disk != text:
            diff = difflib.unified_diff(
                on_disk.splitlines(), text.splitlines(), "on disk", "generated", lineterm="", n=1
            )
            stale.append(f"{path.relative_to(ROOT)}:\n" + "\n".join(list(diff)[:40]))
    assert not stale, f"generated docs are stale; run `{COMMAND}`:\n" + "\n".join(stale)


def _keys(model: type[BaseModel], **kw) -> dict[str, object]:
    return {row.key: row for section in walk(model, **kw) for row in section.rows}


def _models_under(annotation: object, seen: set[type]) -> None:
    # Independent of the generator's walk: every model class anywhere in the annotations.
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for info in annotation.model_fields.values():
            _models_under(info.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        _models_under(arg, seen)


def test_every_config_field_is_documented() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+)` \|", page, re.MULTILINE))
    last_parts = {re.split(r"[.\]]", key)[-1] for key in documented}
    seen: set[type] = set()
    _models_under(RepoConfig, seen)
    _models_under(WorkflowConfig, seen)
    for model in seen:
        fields = set(model.model_fields) - ({"root"} if issubclass(model, RootModel) else set())
        assert fields <= last_parts, (model.__name__, fields - last_parts)
    for name in Settings.model_fields:
        assert f"`AGENTFORGE_{name.upper()}`" in page, name
    # Derived from the file, not written in front matter: never offered as a key.
    assert "| `template` |" not in page


class Colour(StrEnum):
    """A colour."""

    RED = "red"
    BLUE = "blue"


class Leaf(BaseModel):
    """A leaf.

    Attributes:
        size: How big, from the docstring.
        tag: Spread over
            two lines.
    """

    size: int = Field(default=3, ge=1, le=9)
    tag: str = Field(default="x", min_length=2, description="From the field.")


class Prices(RootModel[dict[str, Leaf]]):
    """A root model of leaves."""

    root: dict[str, Leaf] = Field(default_factory=dict)


def _even(value: str) -> str:
    return value


class Tree(BaseModel):
    """The top.

    Attributes:
        colour: A colour.
        internal: Never shown.
    """

    colour: Colour = Colour.RED
    mode: Literal["a", "b"] = "a"
    one: Leaf = Field(default_factory=Leaf)
    many: list[Leaf] = Field(default_factory=list)
    named: dict[str, list[Leaf]] = Field(default_factory=dict)
    maybe: Leaf | None = None
    gates: Colour | tuple[Colour, ...] = Colour.BLUE
    prices: Prices = Field(default_factory=Prices)
    tags: list[Annotated[str, AfterValidator(_even), Field(max_length=5)]] = Field(
        default_factory=list, min_length=1
    )
    long: list[str] = Field(default_factory=lambda: [f"item-{i}" for i in range(20)])
    internal: str = "hidden"


def test_walk_follows_nested_models_lists_mappings_unions_and_root_models() -> None:
    rows = _keys(Tree, overrides={("Tree", "internal"): Override(skip=True)})
    for key in (
        "one.size",
        "many[].size",
        "named.<name>[].tag",
        "maybe.size",
        "prices.<name>.size",
    ):
        assert key in rows, key
    assert "internal" not in rows
    assert rows["colour"].allowed == "one of `red`, `blue`"
    assert rows["mode"].allowed == "one of `a`, `b`"
    assert rows["gates"].type == "string or list of string"
    assert "one of `red`, `blue`" in rows["gates"].allowed
    assert rows["maybe"].type == "mapping or null"
    assert rows["one.size"].allowed == "≥ 1; ≤ 9"
    assert rows["one.size"].default == "`3`"
    assert rows["tags"].allowed == "not empty; each at most 5 characters"
    assert rows["long"].default == "see below"
    assert rows["long"].long_default[0] == "item-0"


def test_descriptions_come_from_fields_then_docstring_attributes() -> None:
    rows = _keys(Tree)
    assert rows["one.tag"].description == "From the field."
    assert rows["one.size"].description == "How big, from the docstring."
    assert docstring_attributes(Leaf)["tag"] == "Spread over two lines."
    assert rows["colour"].description == "A colour."


def test_docstring_markup_becomes_markdown() -> None:
    assert markdown("``a`` and :class:`B` and :mod:`~x.y.z`") == "`a` and `B` and `z`"


def test_role_front_matter_rows_leave_the_template_out() -> None:
    from bot.docgen.config_ref import OVERRIDES, PLACEHOLDERS

    rows = _keys(RoleSpec, overrides=OVERRIDES, placeholders=PLACEHOLDERS)
    assert "template" not in rows
    assert rows["name"].default == "the file name"
    assert "`write_file`" in rows["tools"].allowed


def test_metrics_table_lists_every_registered_metric() -> None:
    table = render_metrics()
    names = {family.name for family in Metrics().registry.collect()}
    names.add("agentforge_queue_depth")  # registered by watch_queue
    for name in names:
        assert f"`{name}" in table, name
    assert "`forge`, `event`, `outcome`" in table


def test_splice_replaces_between_markers_and_refuses_a_page_without_them() -> None:
    page = "a\n<!-- generated:x:start -->\nold\n<!-- generated:x:end -->\nb\n"
    assert splice(page, "x", "new", page="p.md") == (
        "a\n<!-- generated:x:start -->\nnew\n<!-- generated:x:end -->\nb\n"
    )
    with pytest.raises(ValueError, match=r"p\.md"):
        splice("no markers\n", "x", "new", page="p.md")


def test_main_writes_changed_pages_only(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "operations.md").write_text(
        "# Ops\n<!-- generated:metrics:start -->\n<!-- generated:metrics:end -->\n",
        encoding="utf-8",
    )
    said: list[str] = []
    assert main(tmp_path, out=said.append) == 2
    assert (docs / "configuration.md").read_text(encoding="utf-8").startswith("# Configuration")
    assert "agentforge_queue_depth" in (docs / "operations.md").read_text(encoding="utf-8")
    assert main(tmp_path, out=said.append) == 0
    assert COMMAND in said[-1]
