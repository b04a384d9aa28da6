"""Go's ``strconv.ParseBool``: the boolean spellings Flagger's flags, payloads and query strings accept."""

from __future__ import annotations

from typing import Final

TRUE_SPELLINGS: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
FALSE_SPELLINGS: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class BoolSyntaxError(ValueError):
    """Not one of Go's twelve boolean spellings; the message is Go's own."""


def parse_bool(text: str) -> bool:
    """``strconv.ParseBool(text)``: ``1 t T TRUE true True`` or ``0 f F FALSE false False``, nothing else.

    Raises :class:`BoolSyntaxError` (a ValueError) otherwise, worded as Go:
    ``strconv.ParseBool: parsing "yes": invalid syntax``. Callers that treat a bad value as false (as
    Flagger does for webhook metadata) catch it.
    """
    if text in TRUE_SPELLINGS:
        return True
    if text in FALSE_SPELLINGS:
        return False
    raise BoolSyntaxError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


def go_quote(text: str) -> str:
    """Go's ``%q`` for printable text: double quotes, backslash escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
