"""Go `flag` syntax as both deployables read it: the forms Flagger's manifests use, and strict errors."""

from __future__ import annotations

import pytest

from goconv.flags import (
    Flag,
    FlagError,
    FlagTable,
    FlagValueError,
    HelpRequested,
    MissingValueError,
    UnexpectedArgumentError,
    UnknownFlagError,
    bool_value,
    duration_value,
    int_value,
    list_value,
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


# --- flag tables ---------------------------------------------------------------------------------------


def _table() -> FlagTable:
    return FlagTable(
        (
            Flag("port", int_value, help="port to listen on"),
            Flag("timeout", duration_value),
            Flag("labels", list_value, attribute="selector_labels"),
            Flag("verbose", bool_value, boolean=True),
        ),
        env_prefix="APP_",
        extra=frozenset({"log-format"}),
    )


def test_a_table_reads_the_command_line_then_the_environment() -> None:
    table = _table()
    given = table.split(["--port", "0x10", "-verbose", "-log-format=text"])
    assert given == {"port": "0x10", "verbose": "true", "log-format": "text"}
    environ = {"APP_PORT": "1", "APP_TIMEOUT": "1m30s", "APP_LABELS": "app, name,,"}
    assert table.values(given, environ) == {
        "port": 16,  # the command line wins
        "verbose": True,
        "timeout": 90.0,
        "selector_labels": ("app", "name"),
    }
    assert table.env_name("log-level") == "APP_LOG_LEVEL"


@pytest.mark.parametrize(
    ("flag", "raw", "message"),
    [
        ("port", "two", 'invalid value "two" for flag -port: parse error'),
        ("timeout", "10", 'invalid value "10" for flag -timeout: time: invalid duration "10"'),
        (
            "verbose",
            "yes",
            'invalid value "yes" for flag -verbose: strconv.ParseBool: parsing "yes": invalid syntax',
        ),
    ],
)
def test_a_bad_value_names_the_flag_as_go_does(flag: str, raw: str, message: str) -> None:
    with pytest.raises(FlagValueError) as raised:
        _table().values({flag: raw}, {})
    assert str(raised.value) == message
    assert isinstance(raised.value, FlagError)


def test_the_usage_lists_each_flag_with_its_default_help_and_variable() -> None:
    class Defaults:
        port, timeout, selector_labels, verbose = 8080, 60.0, ("app", "name"), False

    lines = _table().usage("usage: app [flags]", Defaults()).splitlines()
    assert lines[:3] == ["usage: app [flags]", "", "  -port=8080  port to listen on  (env APP_PORT)"]
    assert "  -labels=app,name  (env APP_LABELS)" in lines
    assert FlagTable((Flag("port", help="p"),)).usage("u").splitlines()[-1] == "  -port  p"
