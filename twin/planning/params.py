"""Dotted scenario parameters: ``demand.scale``, ``incidents.0.duration_s``, ``scenario.seed``.

A sweep varies fields of a :class:`~twin.scenario.Scenario` by their dotted path in the
scenario file; list items are addressed by their index. The scenario is validated again
after the change, so a value out of range is refused as a scenario file's would be.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from twin.scenario import Scenario, format_validation_error

__all__ = ["ParameterError", "apply_parameters", "check_parameter", "parse_value"]


class ParameterError(ValueError):
    """An unknown parameter, or a value the scenario refuses; the message says which."""


def _fields(model: BaseModel | type[BaseModel]) -> list[str]:
    cls = model if isinstance(model, type) else type(model)
    return sorted(cls.model_fields)


def check_parameter(scenario: Scenario, name: str) -> None:
    """Check that ``name`` is a field of ``scenario`` by its dotted path.

    Raises
    ------
    ParameterError : the path names no field; the message lists the fields there are.
    """
    node: Any = scenario
    walked: list[str] = []
    for part in name.split("."):
        where = ".".join(walked) or "the scenario"
        if isinstance(node, BaseModel):
            if part not in type(node).model_fields or part == "path":
                raise ParameterError(f"unknown parameter {name!r}: {where} has no field {part!r} "
                                     f"(its fields: {', '.join(f for f in _fields(node) if f != 'path')})")
            node = getattr(node, part)
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ParameterError(f"unknown parameter {name!r}: {where} is a list of "
                                     f"{len(node)} items; address one by its index 0..{len(node) - 1}")
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise ParameterError(f"unknown parameter {name!r}: {where} has no key {part!r} "
                                     f"(its keys: {', '.join(sorted(node)) or 'none'})")
            node = node[part]
        else:
            raise ParameterError(f"unknown parameter {name!r}: {where} is a value, not a table")
        walked.append(part)


def apply_parameters(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """A copy of ``scenario`` with each dotted parameter set, validated again.

    Raises
    ------
    ParameterError : an unknown parameter, or a value the scenario refuses.
    """
    for name in values:
        check_parameter(scenario, name)
    # only what the file set: a validator may refuse a field that was set where it does not
    # belong (a CCTV-only setting on an ANPR camera), and defaults would look set
    data = copy.deepcopy(scenario.model_dump(mode="python", exclude_unset=True, exclude={"path"}))
    for name, value in values.items():
        *head, last = name.split(".")
        node: Any = data
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    try:
        out = Scenario.model_validate(data)
    except ValidationError as exc:
        shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        raise ParameterError(f"the scenario refuses {shown}:\n{format_validation_error(exc)}") \
            from None
    return out.model_copy(update={"path": scenario.path, "sha256": scenario.sha256})


def parse_value(text: str) -> Any:
    """A command-line value: an int, a float, ``true``/``false``, or else the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()
