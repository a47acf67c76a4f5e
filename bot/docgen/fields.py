"""Walk pydantic models into documentation rows: key path, type, default, range, meaning.

The walk is generic so that a model gaining a field needs no change here: it follows
nested models, lists and tuples of models, mappings of models, ``RootModel`` wrappers,
unions (``X | None``, ``Gate | tuple[Gate, ...]``), enums and ``Literal`` values, and it
reads constraints (``ge``, ``le``, ``min_length``, ``pattern``...) from the field's
metadata. A field's description is its ``Field(description=...)``, else the entry for it
in the class docstring's Google-style ``Attributes:`` section.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, RootModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

LONG_DEFAULT = 60
"""Defaults rendered longer than this go into a YAML block under the table."""


@dataclass
class Row:
    """One documented key.

    Attributes:
        key: Dotted path (``models.routes.<role>[].provider``).
        type: Human-readable type (``list of string``).
        default: Rendered default, ``required``, or empty for a section.
        allowed: Allowed values and ranges.
        description: What the key means.
        section: The key holds a nested model documented in its own table.
        long_default: The full default as plain data, when too long for the table.
    """

    key: str
    type: str
    default: str
    allowed: str
    description: str
    section: bool = False
    long_default: Any = None


@dataclass
class Section:
    """The rows of one model reached at one key path.

    Attributes:
        path: Where the model sits (empty for the file's top level).
        model: The model class.
        rows: Its fields, in declaration order.
    """

    path: str
    model: type[BaseModel]
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class Override:
    """What a loader does beyond the model for one field (default, exclusion, note).

    Attributes:
        default: Shown instead of the model's default.
        note: Appended to the description.
        skip: The field is not a key a user writes (e.g. a role's template body).
        allowed: Allowed values a validator enforces (the type cannot show them).
        fallback: The description when the model has none (its own text wins).
    """

    default: str | None = None
    note: str = ""
    skip: bool = False
    allowed: str = ""
    fallback: str = ""


_ROLE = re.compile(r":[a-z]+:`(~?)([^`]+)`")


def markdown(text: str) -> str:
    """reST inline literals (````x````) and roles (``:class:`~a.B```) as Markdown code."""
    text = _ROLE.sub(
        lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text
    )
    return text.replace("``", "`")


def docstring_attributes(cls: type) -> dict[str, str]:
    """The ``Attributes:`` entries of ``cls``'s Google-style docstring, name → text."""
    doc = markdown(inspect.getdoc(cls) or "")
    out: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return out
    base: int | None = None
    current: str | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            current = None if base is None else current
            continue
        indent = len(line) - len(line.lstrip())
        if base is None:
            base = indent
        if indent < base:
            break
        match = re.match(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line.strip())
        if indent == base and match:
            current = match.group(1)
            out[current] = match.group(2)
        elif current is not None and indent > base:
            out[current] = (out[current] + " " + line.strip()).strip()
        else:
            break
    return out


def summary(cls: type) -> str:
    """The first paragraph of ``cls``'s docstring, on one line."""
    doc = markdown(inspect.getdoc(cls) or "")
    paragraph = doc.split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def body(cls: type) -> str:
    """``cls``'s docstring without its ``Attributes:`` section, paragraphs kept."""
    doc = markdown(inspect.getdoc(cls) or "")
    kept: list[str] = []
    for paragraph in doc.split("\n\n"):
        if paragraph.lstrip().startswith(("Attributes:", "Args:")):
            break
        kept.append(" ".join(paragraph.split()))
    return "\n\n".join(p for p in kept if p)


# --- types ----------------------------------------------------------------------------


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """``annotation`` without ``Annotated``, and the metadata that was on it."""
    meta: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        annotation, meta = args[0], [*meta, *args[1:]]
    return annotation, meta


def _union_members(annotation: Any) -> list[Any] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return list(typing.get_args(annotation))
    return None


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _root_annotation(model: type[BaseModel]) -> Any:
    return model.model_fields["root"].annotation


def type_name(annotation: Any) -> str:
    """A reader's name for ``annotation``: ``string``, ``list of integer``, ``mapping``..."""
    annotation, _ = _strip(annotation)
    members = _union_members(annotation)
    if members is not None:
        names = [type_name(m) for m in members if m is not type(None)]
        if type(None) in members:
            names.append("null")
        return " or ".join(dict.fromkeys(names))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        return "integer" if kinds == {int} else "boolean" if kinds == {bool} else "string"
    if origin in (list, tuple, set, frozenset):
        items = [a for a in args if a is not Ellipsis] or [Any]
        return "list of " + " or ".join(dict.fromkeys(type_name(a) for a in items))
    if origin is dict:
        value = args[1] if len(args) == 2 else Any
        return f"mapping of string to {type_name(value)}"
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if inspect.isclass(annotation):
        if issubclass(annotation, RootModel):
            return type_name(_root_annotation(annotation))
        if issubclass(annotation, BaseModel):
            return "mapping"
        if issubclass(annotation, bool):
            return "boolean"
        if issubclass(annotation, enum.Enum):
            values = {type(m.value) for m in annotation}
            return "integer" if values == {int} else "string"
        if issubclass(annotation, int):
            return "integer"
        if issubclass(annotation, float):
            return "number"
        if issubclass(annotation, str):
            return "string"
        if issubclass(annotation, PurePath):
            return "path"
        if issubclass(annotation, SecretStr):
            return "secret string"
    return str(annotation).replace("typing.", "")


def choices(annotation: Any) -> list[str]:
    """Every enum or ``Literal`` value ``annotation`` allows (through unions and lists)."""
    annotation, _ = _strip(annotation)
    out: list[str] = []
    members = _union_members(annotation)
    if members is not None:
        for member in members:
            out.extend(choices(member))
        return list(dict.fromkeys(out))
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    if origin in (list, tuple, set, frozenset):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                out.extend(choices(arg))
        return list(dict.fromkeys(out))
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return [str(m.value) for m in annotation]
    return out


def _constraint_text(meta: list[Any], *, sized: str = "characters") -> list[str]:
    parts: list[str] = []
    # Field(...) inside Annotated[...] (an item type) carries its constraints as metadata.
    flat = [m for item in meta for m in (item.metadata if isinstance(item, FieldInfo) else [item])]
    for item in flat:
        for attr, fmt in (
            ("ge", "≥ {}"),
            ("gt", "> {}"),
            ("le", "≤ {}"),
            ("lt", "< {}"),
            ("min_length", "at least {} " + sized),
            ("max_length", "at most {} " + sized),
            ("pattern", "matches `{}`"),
        ):
            value = getattr(item, attr, None)
            if value is None:
                continue
            if attr == "min_length" and value == 1:
                parts.append("not empty")
            elif attr in ("min_length", "max_length") and value == 1:
                parts.append(fmt.format(1).rstrip("s"))
            else:
                parts.append(fmt.format(_number(value)))
    return parts


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:_}"
    return str(value)


def allowed(info: FieldInfo) -> str:
    """Allowed values and ranges of a field, from its type and metadata."""
    parts: list[str] = []
    values = choices(info.annotation)
    if values:
        parts.append("one of " + ", ".join(f"`{v}`" for v in values))
    items = _item_annotation(info.annotation)
    parts.extend(
        _constraint_text(list(info.metadata), sized="characters" if items is None else "items")
    )
    if items is not None:
        _, item_meta = _strip(items)
        parts.extend("each " + text for text in _constraint_text(item_meta))
    return "; ".join(parts)


def _item_annotation(annotation: Any) -> Any:
    annotation, _ = _strip(annotation)
    members = _union_members(annotation) or [annotation]
    for member in members:
        member, _ = _strip(member)
        if typing.get_origin(member) in (list, tuple, set, frozenset):
            args = [a for a in typing.get_args(member) if a is not Ellipsis]
            return args[0] if args else None
    return None


# --- defaults -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON-like data: models dumped, enums by value, paths as strings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value, fallback=str)


def render_default(info: FieldInfo, *, bare_strings: bool = False) -> tuple[str, Any]:
    """The default as table text, and the full value when it is too long for the table."""
    if info.is_required():
        return "required", None
    value = info.get_default(call_default_factory=True, validated_data={})
    if value is PydanticUndefined:
        return "required", None
    if value is None:
        return "unset" if bare_strings else "`null`", None
    data = plain(value)
    if bare_strings and isinstance(data, str | int | float | bool):
        text = str(data).lower() if isinstance(data, bool) else str(data)
        return (f"`{text}`" if text else "empty"), None
    if bare_strings and data == []:
        return "empty", None
    text = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    if len(text) > LONG_DEFAULT:
        return "see below", data
    return f"`{text}`", None


# --- the walk -------------------------------------------------------------------------


def _children(annotation: Any, key: str, placeholder: str) -> list[tuple[str, type[BaseModel]]]:
    """Nested models reachable from a field's annotation, with the key path to each."""
    annotation, _ = _strip(annotation)
    members = _union_members(annotation)
    if members is not None:
        out: list[tuple[str, type[BaseModel]]] = []
        for member in members:
            out.extend(_children(member, key, placeholder))
        return out
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset):
        items = [a for a in args if a is not Ellipsis]
        return [c for a in items for c in _children(a, f"{key}[]", placeholder)]
    if origin is dict and len(args) == 2:
        return _children(args[1], f"{key}.{placeholder}", placeholder)
    if _is_model(annotation):
        if issubclass(annotation, RootModel):
            return _children(_root_annotation(annotation), key, placeholder)
        return [(key, annotation)]
    return []


def walk(
    model: type[BaseModel],
    path: str = "",
    *,
    placeholders: dict[tuple[str, str], str] | None = None,
    overrides: dict[tuple[str, str], Override] | None = None,
    bare_strings: bool = False,
) -> list[Section]:
    """Every section reachable from ``model``: its own rows first, then nested ones.

    Args:
        model: The model of a file's top level (or of any key).
        path: The key path of ``model`` (empty at a file's top level).
        placeholders: ``(ModelName, field)`` → the name shown for a mapping's keys
            (``<role>``); ``<name>`` otherwise.
        overrides: ``(ModelName, field)`` → what a loader does beyond the model.
        bare_strings: Render string defaults unquoted (environment variables).
    """
    placeholders = placeholders or {}
    overrides = overrides or {}
    if issubclass(model, RootModel):
        # A root model documents its root's models directly at its own path.
        sections: list[Section] = []
        for key, child in _children(_root_annotation(model), path, "<name>"):
            sections.extend(walk(child, key, placeholders=placeholders, overrides=overrides))
        return sections
    section = Section(path=path, model=model)
    described = docstring_attributes(model)
    nested: list[Section] = []
    for name, info in model.model_fields.items():
        override = overrides.get((model.__name__, name), Override())
        if override.skip:
            continue
        key_name = info.alias or name
        key = f"{path}.{key_name}" if path else key_name
        placeholder = placeholders.get((model.__name__, name), "<name>")
        children = _children(info.annotation, key, placeholder)
        annotation = info.annotation
        if _is_model(_strip(annotation)[0]) and issubclass(_strip(annotation)[0], RootModel):
            placeholder = placeholders.get((_strip(annotation)[0].__name__, "root"), placeholder)
            children = _children(_root_annotation(_strip(annotation)[0]), key, placeholder)
        own = info.description or described.get(name, "") or override.fallback
        description = markdown(own).strip()
        if override.note:
            description = f"{description} {override.note}".strip()
        is_section = bool(children) and _is_model(_strip(annotation)[0])
        if is_section:
            default, long_default = "", None
        elif override.default is not None:
            default, long_default = override.default, None
        else:
            default, long_default = render_default(info, bare_strings=bare_strings)
        section.rows.append(
            Row(
                key=key,
                type=type_name(annotation),
                default=default,
                allowed="; ".join(p for p in (allowed(info), override.allowed) if p),
                description=description,
                section=bool(children),
                long_default=long_default,
            )
        )
        for child_key, child in children:
            nested.extend(
                walk(
                    child,
                    child_key,
                    placeholders=placeholders,
                    overrides=overrides,
                    bare_strings=bare_strings,
                )
            )
    return [section, *nested]
