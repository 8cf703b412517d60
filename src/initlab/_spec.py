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
        raise ValueError(f"The {what!r} spec must be a string. Got {spec!r} instead.")
    text = spec.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, ast.Name):
        return node.id, {}
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or node.args:
        raise ValueError(
            f"The {what!r} spec must be a name optionally followed by keyword arguments, such as "
            f"'normal(std=10)'. Got {spec!r} instead."
        )
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"The {what!r} spec {spec!r} may not use '**'.")
        if isinstance(kw.value, ast.Name):
            kwargs[kw.arg] = kw.value.id
            continue
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            raise ValueError(
                f"The value of {kw.arg!r} in the {what!r} spec {spec!r} must be a literal "
                f"(number, string, boolean, None). Got {ast.unparse(kw.value)!r} instead."
            ) from None
    return node.func.id, kwargs


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
        return entry.factory(**kwargs)
