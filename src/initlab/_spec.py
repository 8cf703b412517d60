"""Spec strings and registries: the one parser behind ``"normal(std=10)"`` everywhere.

A spec names a registered factory and its keyword arguments: ``"zeros"``, ``"he_normal"``,
``"normal(std=10)"``, ``"leaky_relu(slope=0.2)"``, ``"variance_scaling(mode=fan_out)"``.
Values are Python literals (numbers, strings, booleans, None, tuples); a bare word such as
``fan_out`` is read as the string ``"fan_out"`` so that specs can be typed in a shell unquoted.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._validation import SPEC_MAX_LENGTH, _show


def parse_spec(spec: str, *, what: str = "spec") -> tuple[str, dict[str, Any]]:
    """Split ``"name(key=value, ...)"`` into ``name`` and a dict of keyword arguments.

    Parameters
    ----------
    spec : str
        The spec string.
    what : str
        What the spec names, for error messages ("init", "activation", ...).

    Returns
    -------
    name : str
    kwargs : dict

    Raises
    ------
    ValueError
        If the string is not a name optionally followed by keyword arguments in parentheses.

    Examples
    --------
    >>> parse_spec("normal(std=10)")
    ('normal', {'std': 10})
    >>> parse_spec("variance_scaling(scale=2.0, mode=fan_out)")
    ('variance_scaling', {'scale': 2.0, 'mode': 'fan_out'})
    """
    if not isinstance(spec, str):
        raise ValueError(f"The {what!r} spec must be a string. Got {_show(spec)} instead.")
    if len(spec) > SPEC_MAX_LENGTH:
        raise ValueError(
            f"The {what!r} spec must be at most {SPEC_MAX_LENGTH} characters, such as "
            f"'normal(std=10)'. Got {len(spec)} characters: {_show(spec)}."
        )
    text = spec.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        node = None
    if isinstance(node, ast.Name):
        return node.id, {}
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or node.args:
        raise ValueError(
            f"The {what!r} spec must be a name optionally followed by keyword arguments, such as "
            f"'normal(std=10)'. Got {_show(spec)} instead."
        )
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"The {what!r} spec {_show(spec)} may not use '**'.")
        if kw.arg in kwargs:
            raise ValueError(
                f"The {what!r} spec {_show(spec)} gives {kw.arg!r} twice; give each parameter once."
            )
        if isinstance(kw.value, ast.Name):
            kwargs[kw.arg] = kw.value.id
            continue
        try:
            value = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            value = _NOT_LITERAL
        if not _plain(value):
            raise ValueError(
                f"The value of {kw.arg!r} in the {what!r} spec {_show(spec)} must be a literal "
                f"(number, string, boolean, None, or a tuple of them). Got "
                f"{_show(ast.unparse(kw.value))} instead."
            )
        kwargs[kw.arg] = value
    return node.func.id, kwargs


_NOT_LITERAL = object()


def _plain(value: Any, depth: int = 0) -> bool:
    """A value a spec may hold: a number, string, bool or None, or a short tuple/list of them."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, tuple | list) and depth < 2:
        return all(_plain(v, depth + 1) for v in value)
    return False


def format_spec(name: str, params: dict[str, Any]) -> str:
    """The inverse of :func:`parse_spec`.

    >>> format_spec("normal", {"std": 10})
    'normal(std=10)'
    """
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


@dataclass
class Entry:
    """One registered factory: its name, aliases and documentation."""

    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    formula: str = ""
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Factories by name and alias, built from spec strings with checked keyword arguments."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, Entry] = {}
        self._names: dict[str, str] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        aliases: tuple[str, ...] = (),
        formula: str = "",
        reference: str = "",
        overwrite: bool = False,
        **extra: Any,
    ) -> Entry:
        for key in (name, *aliases):
            if key in self._names and not overwrite:
                raise ValueError(
                    f"The {self.what} name {key!r} is already registered (to "
                    f"{self._names[key]!r}); pass overwrite=True to replace it."
                )
        entry = Entry(name, factory, tuple(aliases), formula, reference, dict(extra))
        self._entries[name] = entry
        for key in (name, *aliases):
            self._names[key] = name
        return entry

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def entry(self, name: str) -> Entry:
        if name not in self._names:
            raise ValueError(
                f"Unknown {self.what} {name!r}. Valid names: {', '.join(sorted(self._names))}."
            )
        return self._entries[self._names[name]]

    def build(self, spec: str) -> Any:
        """Parse ``spec`` and call the named factory with its keyword arguments."""
        name, kwargs = parse_spec(spec, what=self.what)
        entry = self.entry(name)
        allowed = [
            p.name
            for p in inspect.signature(entry.factory).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        unknown = [k for k in kwargs if k not in allowed]
        if unknown:
            valid = ", ".join(allowed) if allowed else "none"
            raise ValueError(
                f"Unknown parameter {unknown[0]!r} for {self.what} {entry.name!r} in {spec!r}. "
                f"Valid parameters: {valid}."
            )
        try:
            return entry.factory(**kwargs)
        except (TypeError, OverflowError) as exc:  # a value of the wrong kind reached a factory
            raise ValueError(
                f"A parameter of {self.what} {entry.name!r} in {_show(spec)} has a value of the "
                f"wrong kind: {exc}."
            ) from None
