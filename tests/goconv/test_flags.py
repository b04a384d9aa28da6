"""Go `flag` syntax as both deployables read it: the forms Flagger's manifests use, and strict errors."""

from __future__ import annotations

import pytest

from goconv.flags import (
    FlagError,
    HelpRequested,
    MissingValueError,
    UnexpectedArgumentError,
    UnknownFlagError,
    split_flags,
)

KNOWN = {"port", "log-level", "enable-leader-election"}
BOOLS = {"enable-leader-election"}


def split(*argv: str) -> dict[str, str]:
    return split_flags(argv, known=KNOWN, bool_flags=BOOLS)


def test_every_go_form_and_the_last_occurrence_wins() -> None:
    assert split("-port=1", "--log-level", "info", "--port", "2", "-enable-leader-election") == {
        "port": "2",
        "log-level": "info",
        "enable-leader-election": "true",
    }
    assert split("-enable-leader-election=false", "--") == {"enable-leader-election": "false"}
    assert split("-log-level=a=b") == {"log-level": "a=b"}


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["-nope=1"], UnknownFlagError, "flag provided but not defined: -nope"),
        (["-port"], MissingValueError, "flag needs an argument: -port"),
        (["-enable-leader-election", "false"], UnexpectedArgumentError, "unexpected argument 'false'"),
        (["serve"], UnexpectedArgumentError, "unexpected argument 'serve'"),
        (["--", "-port=1"], UnexpectedArgumentError, "unexpected argument '-port=1'"),
        (["---port=1"], UnexpectedArgumentError, "unexpected argument '---port=1'"),
        (["-"], UnexpectedArgumentError, "unexpected argument '-'"),
    ],
)
def test_bad_command_lines_say_why(argv: list[str], error: type[FlagError], message: str) -> None:
    with pytest.raises(error) as caught:
        split(*argv)
    assert str(caught.value) == message


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["-port=1", "-help"]])
def test_help(argv: list[str]) -> None:
    with pytest.raises(HelpRequested):
        split(*argv)
