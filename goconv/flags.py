"""Go ``flag`` package command-line syntax, for the deployables that take Flagger's flags.

Flagger's binaries parse their command lines with Go's ``flag`` package, so charts and manifests pass
``-name=value``, ``-name value``, ``--name=value``, ``--name value`` and bare booleans
(``-enable-leader-election``). Where Go is silently lenient this is strict: a stray positional argument
is an error (Go stops there and ignores the rest, so ``-enable-leader-election false`` would quietly
mean *true*). Converting the values is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import Final


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
