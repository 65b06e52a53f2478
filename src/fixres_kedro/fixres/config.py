"""Frozen dataclasses made from configuration dictionaries, checked field by field.

``Config`` is the base of every typed parameter of the project (``InputPipeline`` here,
the run and runtime parameters in ``fixres_kedro.parameters``). A subclass is a frozen
dataclass declared with ``@config``; making one from keyword arguments (``Recipe(**raw)``,
which is also how Kedro instantiates a typed node parameter) checks every field:

* a key the type does not have is refused, naming the closest field
  (``epoch is not a parameter (did you mean epochs?)``);
* a missing field without a default is named;
* each value is checked against its annotation: ``int`` (not ``bool``), ``float`` (an
  ``int`` is accepted and converted), ``bool``, ``str``, ``Literal[...]``, ``X | None``,
  fixed tuples such as ``tuple[float, float]`` (a YAML list is converted), ``list[X]``
  and nested ``Config`` types (a dictionary is converted), or by the field's own rule
  (``check(positive_int)``), which then decides alone;
* ``validate`` (a method a subclass may define) checks rules across fields.

Every problem is collected before anything is raised, so one ``InvalidParameterError``
names all of them, each by its dotted key (``training.epochs must be a positive integer,
got -1``); a nested type's problems are prefixed with its field name.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Callable, Mapping, Sequence
from typing import (
    Any,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

from fixres_kedro.fixres.errors import InvalidParameterError, Problem

Rule = Callable[[Any], str | None]
"""A field's own check: the value's problem (``"must be ..."``), or None."""

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def config(cls: type[_T]) -> type[_T]:
    """Declare a ``Config`` subclass: a frozen dataclass whose ``__init__`` checks."""
    return dataclasses.dataclass(frozen=True, init=False)(cls)


def check(rule: Rule, default: Any = dataclasses.MISSING, compare: bool = True) -> Any:
    """A field checked by ``rule`` (instead of by its annotation), with an optional default.

    ``compare=False`` leaves the field out of equality and hashing (a setting that does
    not change what the object means, such as a number of threads).
    """
    return dataclasses.field(default=default, compare=compare, metadata={"check": rule})


class Config:
    """Base of the project's typed parameters (see the module docstring)."""

    def __init__(self, *args: Any, **values: Any) -> None:
        problems: list[Problem] = []
        fields = {field.name: field for field in dataclasses.fields(self)}  # type: ignore[arg-type]
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(fields)} positional arguments")
        for name, value in zip(fields, args):
            if name in values:
                raise TypeError(f"{type(self).__name__} got two values for {name!r}")
            values[name] = value
        for key in values.keys() - fields.keys():
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            problems.append(Problem(str(key), "is not a parameter", close[0] if close else None))
        hints = _hints(type(self))
        for name, field in fields.items():
            if name in values:
                value, found = _checked(hints[name], field, values[name], name)
                problems += found
            elif field.default is not dataclasses.MISSING:
                value = field.default
            elif field.default_factory is not dataclasses.MISSING:
                value = field.default_factory()
            else:
                problems.append(Problem(name, "is missing"))
                continue
            object.__setattr__(self, name, value)
        if not problems:
            problems += self.validate()
        if problems:
            raise InvalidParameterError(problems)

    def validate(self) -> list[Problem]:
        """Problems across fields (none by default); called once every field is valid."""
        return []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (tuples become lists), as the configuration holds it."""
        return plain(self)

    @classmethod
    def coerce(cls: type[_T], value: Any) -> _T:
        """``value`` if it is already this type, else this type made from a dictionary."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise InvalidParameterError([Problem("", f"must be a mapping, got {value!r}")])
        return cls(**value)


def _hints(cls: type) -> dict[str, Any]:
    cached = cls.__dict__.get("_config_hints")
    if cached is None:
        cached = get_type_hints(cls)
        cls._config_hints = cached  # type: ignore[attr-defined]
    return cached


def _checked(annotation: Any, field: dataclasses.Field, value: Any, key: str) -> tuple[Any, list[Problem]]:
    """The value converted to ``annotation``, or the problems it has."""
    rule = field.metadata.get("check")
    if rule is not None:
        message = rule(value)
        if message is not None:
            return value, [Problem(key, f"{message}, got {value!r}")]
        return _convert(annotation, value, key)
    return _convert(annotation, value, key)


def _convert(annotation: Any, value: Any, key: str) -> tuple[Any, list[Problem]]:
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Config):
        if isinstance(value, annotation):
            return value, []
        if not isinstance(value, Mapping):
            return value, [Problem(key, f"must be a mapping of {_describe(annotation)}, got {value!r}")]
        try:
            return annotation(**value), []
        except InvalidParameterError as error:
            return value, [problem.under(key) for problem in error.problems]
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None, []
        options = [arg for arg in args if arg is not type(None)]
        for option in options:
            converted, problems = _convert(option, value, key)
            if not problems:
                return converted, []
        return value, [Problem(key, f"must be {_describe(annotation)}, got {value!r}")]
    if origin is Literal:
        if value in args and type(value) in {type(arg) for arg in args}:
            return value, []
        return value, [Problem(key, f"must be {_describe(annotation)}, got {value!r}")]
    if origin in (tuple, list):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            return value, [Problem(key, f"must be {_describe(annotation)}, got {value!r}")]
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                return value, [Problem(key, f"must be {_describe(annotation)}, got {value!r}")]
            items = list(zip(args, value))
        else:
            items = [(args[0], item) for item in value]
        converted, problems = [], []
        for index, (item_type, item) in enumerate(items):
            result, found = _convert(item_type, item, f"{key}[{index}]")
            converted.append(result)
            problems += found
        return (tuple(converted) if origin is tuple else converted), problems
    if annotation is Any:
        return value, []
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
    else:
        ok = isinstance(value, annotation)
    return value, ([] if ok else [Problem(key, f"must be {_describe(annotation)}, got {value!r}")])


def _describe(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        options = [_describe(arg) for arg in args if arg is not type(None)]
        if type(None) in args:
            options.append("null")
        return ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
    if origin is Literal:
        return "one of " + ", ".join(str(arg) for arg in args)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return f"a list of {len(args)} ({', '.join(_describe(arg) for arg in args)})"
    if origin in (tuple, list):
        return f"a list of {_plural(_describe(args[0]))}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, Config):
        return ", ".join(field.name for field in dataclasses.fields(annotation))  # type: ignore[arg-type]
    return getattr(annotation, "__name__", str(annotation))


def _plural(description: str) -> str:
    for article in ("an ", "a "):
        if description.startswith(article):
            return description[len(article):] + "s"
    return description


def plain(value: Any) -> Any:
    """``value`` with every ``Config`` (at any depth) as a dictionary and tuples as lists."""
    if isinstance(value, Config):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}  # type: ignore[arg-type]
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value


# --- rules ------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value > 0 else "must be a positive integer"


def non_negative_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "must be an integer >= 0"


def positive_number(value: Any) -> str | None:
    return None if _is_number(value) and value > 0 else "must be a positive number"


def at_least(minimum: float, why: str = "") -> Rule:
    """A number no smaller than ``minimum`` (an integer when ``minimum`` is one)."""
    kind = "an integer" if isinstance(minimum, int) else "a number"
    reason = f" ({why})" if why else ""

    def rule(value: Any) -> str | None:
        ok = (_is_int(value) if isinstance(minimum, int) else _is_number(value)) and value >= minimum
        return None if ok else f"must be {kind} >= {minimum}{reason}"

    return rule


def optional(rule: Rule) -> Rule:
    """``rule``, or null."""

    def check_optional(value: Any) -> str | None:
        message = rule(value)
        return None if value is None or message is None else f"{message} or null"

    return check_optional


def pair_range(upper: float | None = None) -> Rule:
    """A pair ``[low, high]`` of numbers with ``0 < low <= high`` (``<= upper``)."""

    def rule(value: Any) -> str | None:
        if (
            isinstance(value, str | bytes)
            or not isinstance(value, Sequence)
            or len(value) != 2
            or not all(_is_number(item) for item in value)
        ):
            return "must be a pair [low, high]"
        low, high = value
        if not 0 < low <= high or (upper is not None and high > upper):
            bound = f" <= {upper}" if upper is not None else ""
            return f"must satisfy 0 < low <= high{bound}"
        return None

    return rule
