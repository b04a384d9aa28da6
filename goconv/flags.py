"""Go ``flag`` package command-line syntax, for the deployables that take Flagger's flags.

Flagger's binaries parse their command lines with Go's ``flag`` package, so charts and manifests pass
``-name=value``, ``-name value``, ``--name=value``, ``--name value`` and bare booleans
(``-enable-leader-election``). Where Go is silently lenient this is strict: a stray positional argument
is an error (Go stops there and ignores the rest, so ``-enable-leader-election false`` would quietly
mean *true*).

:func:`split_flags` reads the syntax only; :class:`FlagTable` adds the flag definitions, their
converters (``bool_value``, ``int_value``, ``duration_value`` ... for Go's flag types) and an environment
fallback per flag, and writes the usage. Both deployables build their settings from one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from goconv.durations import parse_duration
from goconv.strconv import go_quote, parse_bool


class FlagError(ValueError):
    """The command line breaks Go's flag syntax; the message uses Go's wording."""


class UnknownFlagError(FlagError):
    """A flag that is not defined."""


class MissingValueError(FlagError):
    """A non-boolean flag is last on the command line, without a value."""


class UnexpectedArgumentError(FlagError):
    """A positional argument, or anything after ``--``: the command line takes flags only."""


class HelpRequested(Exception):
    """``-h``, ``-help`` or ``--help`` was given: print the usage and exit 0, as Go's flag package does."""


_FLAG_SYNTAX: Final = re.compile(r"^--?(?P<name>[^-=][^=]*)(?:=(?P<value>.*))?$", re.DOTALL)


def split_flags(argv: Sequence[str], *, known: Container[str], bool_flags: Container[str]) -> dict[str, str]:
    """Go flag syntax -> ``{flag name: raw value}``; the last occurrence of a flag wins, as in Go.

    A flag in ``bool_flags`` given bare means ``true`` and never consumes the next argument (only
    ``-flag=false`` turns it off), as in Go.
    """
    raw_values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        argument = argv[index]
        index += 1
        if argument == "--":
            if index < len(argv):
                raise UnexpectedArgumentError(f"unexpected argument {argv[index]!r}")
            break
        match = _FLAG_SYNTAX.match(argument)
        if match is None:
            raise UnexpectedArgumentError(f"unexpected argument {argument!r}")
        name, value = match.group("name"), match.group("value")
        if name in ("h", "help"):
            raise HelpRequested
        if name not in known:
            raise UnknownFlagError(f"flag provided but not defined: -{name}")
        if value is None:
            if name in bool_flags:
                value = "true"
            elif index < len(argv):
                value = argv[index]
                index += 1
            else:
                raise MissingValueError(f"flag needs an argument: -{name}")
        raw_values[name] = value
    return raw_values


# --- flag tables: names, converters and environment fallbacks --------------------------------------------


class FlagValueError(FlagError):
    """A flag's value cannot be used; worded as Go: ``invalid value "x" for flag -port: <reason>``."""


Converter = Callable[[str], Any]
"""Turns a flag's text into its value; raises ValueError with the reason when it cannot."""


@dataclass(frozen=True)
class Flag:
    """One flag of a :class:`FlagTable`.

    ``name`` is the Go flag name (``metrics-server``); ``convert`` turns its text into the value (one of
    the converters below, or the caller's own); ``attribute`` is where the value goes (by default the name
    with underscores: ``metrics_server``); a ``boolean`` flag given bare means true, as in Go.
    """

    name: str
    convert: Converter = str
    help: str = ""
    attribute: str = ""
    boolean: bool = False

    @property
    def target(self) -> str:
        return self.attribute or self.name.replace("-", "_")


@dataclass(frozen=True)
class FlagTable:
    """A deployable's flags: Go command-line syntax, an environment fallback per flag, and its usage.

    ``env_prefix`` (``FLAGMAN_``) makes ``-metrics-server`` fall back to ``FLAGMAN_METRICS_SERVER`` when
    it is not on the command line; ``extra`` names flags the caller handles itself (aliases).
    """

    flags: tuple[Flag, ...]
    env_prefix: str = ""
    extra: frozenset[str] = frozenset()

    def env_name(self, flag_name: str) -> str:
        """``metrics-server`` -> ``FLAGMAN_METRICS_SERVER``."""
        return self.env_prefix + flag_name.upper().replace("-", "_")

    def split(self, argv: Sequence[str]) -> dict[str, str]:
        """:func:`split_flags` over this table's names (raises the FlagError subclasses)."""
        known = {flag.name for flag in self.flags} | self.extra
        return split_flags(argv, known=known, bool_flags={flag.name for flag in self.flags if flag.boolean})

    def values(self, given: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
        """``{attribute: value}`` for every flag on the command line (``given``, from :meth:`split`) or,
        failing that, in the environment. Raises :class:`FlagValueError` naming the flag."""
        values: dict[str, Any] = {}
        for flag in self.flags:
            raw = given.get(flag.name)
            if raw is None and self.env_prefix:
                raw = environ.get(self.env_name(flag.name))
            if raw is None:
                continue
            try:
                values[flag.target] = flag.convert(raw)
            except ValueError as error:
                raise FlagValueError(
                    f"invalid value {go_quote(raw)} for flag -{flag.name}: {error}"
                ) from None
        return values

    def usage(self, header: str, defaults: object | None = None) -> str:
        """``header``, then one line per flag: ``-name=default  help  (env NAME)``."""
        lines = [header, ""]
        for flag in self.flags:
            line = f"  -{flag.name}"
            if defaults is not None:
                default = getattr(defaults, flag.target)
                line += "=" + (",".join(default) if isinstance(default, tuple) else str(default))
            if flag.help:
                line += f"  {flag.help}"
            if self.env_prefix:
                line += f"  (env {self.env_name(flag.name)})"
            lines.append(line)
        return "\n".join(lines)


# Converters for Go's flag types (flag.Bool, flag.Int, flag.Float64, flag.Duration); each raises ValueError.


def bool_value(text: str) -> bool:
    """``flag.Bool``: Go's strconv.ParseBool spellings only."""
    return parse_bool(text)


def int_value(text: str) -> int:
    """``flag.Int``: base prefixes (``0x``, ``0o``, ``0b``) and underscores, as strconv.ParseInt(s, 0)."""
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise ValueError("parse error") from None


def float_value(text: str) -> float:
    """``flag.Float64``."""
    try:
        return float(text)
    except ValueError:
        raise ValueError("parse error") from None


def duration_value(text: str) -> float:
    """``flag.Duration``: a Go duration (``1m30s``), in seconds."""
    return parse_duration(text)


def list_value(text: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped (Flagger's ``-selector-labels``)."""
    return tuple(item.strip() for item in text.split(",") if item.strip())
