"""Flags in Go's single-dash form and as --flags, environment variables, and their errors."""

from __future__ import annotations

import pytest

from goconv.durations import DurationError, parse_duration
from loadtester.settings import HelpRequested, Settings, SettingsError, parse_settings


def test_defaults_match_flagger() -> None:
    settings = parse_settings([], {})
    assert settings == Settings()
    assert (settings.port, settings.timeout, settings.log_level, settings.zap_encoding) == (
        9090,
        3600,
        "debug",
        "json",
    )
    assert settings.host == "" and settings.namespace_regexp is None and settings.auth_token == ""


def test_chart_command_line() -> None:
    settings = parse_settings(
        ["-port=8080", "-log-level=info", "-timeout=1h", "-namespace-regexp=^test$"], {}
    )
    assert (settings.port, settings.log_level, settings.timeout) == (8080, "info", 3600.0)
    assert settings.namespace_pattern == "^test$"


def test_kustomize_command_line_with_empty_regexp() -> None:
    settings = parse_settings(["-port=8080", "-log-level=info", "-timeout=1h", "-namespace-regexp="], {})
    assert settings.namespace_regexp is None


@pytest.mark.parametrize(
    "argv",
    [
        ["-port=8080", "-timeout=90s"],
        ["-port", "8080", "-timeout", "90s"],
        ["--port=8080", "--timeout=90s"],
        ["--port", "8080", "--timeout", "1m30s"],
    ],
)
def test_flag_forms(argv: list[str]) -> None:
    settings = parse_settings(argv, {})
    assert (settings.port, settings.timeout) == (8080, 90.0)


def test_environment_and_precedence() -> None:
    environ = {
        "LOADTESTER_PORT": "7070",
        "LOADTESTER_HOST": "127.0.0.5",
        "LOADTESTER_TIMEOUT": "5m",
        "LOADTESTER_LOG_LEVEL": "error",
        "LOADTESTER_NAMESPACE_REGEXP": "^a",
        "LOADTESTER_ZAP_ENCODING": "console",
        "LOADTESTER_AUTH_TOKEN": "t",
    }
    settings = parse_settings([], environ)
    assert (settings.port, settings.host, settings.timeout, settings.log_level) == (
        7070,
        "127.0.0.5",
        300.0,
        "error",
    )
    assert (settings.namespace_pattern, settings.zap_encoding, settings.auth_token) == ("^a", "console", "t")
    assert parse_settings(["-port=8080", "--host", "127.0.0.6"], environ).port == 8080
    assert parse_settings(["-host=127.0.0.6"], environ).host == "127.0.0.6"


@pytest.mark.parametrize(
    ("given", "effective"),
    [("debug", "debug"), ("warn", "warn"), ("warning", "warn"), ("fatal", "fatal"), ("verbose", "info")],
)
def test_log_levels(given: str, effective: str) -> None:
    assert parse_settings([f"-log-level={given}"], {}).log_level == effective


def test_gates_configmap() -> None:
    assert parse_settings(["--gates-configmap", "flagger/gates"], {}).gates_configmap == "flagger/gates"
    assert parse_settings([], {"LOADTESTER_GATES_CONFIGMAP": "a/b"}).gates_configmap == "a/b"


def test_bool_flag_and_log_format_alias() -> None:
    assert parse_settings(["-zap-replace-globals"], {}).zap_replace_globals is True
    assert parse_settings(["-zap-replace-globals=false"], {}).zap_replace_globals is False
    assert parse_settings(["--log-format", "text"], {}).zap_encoding == "console"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-nope=1"], "flag provided but not defined: -nope"),
        (["-port=http"], "invalid port"),
        (["-port=70000"], "out of range"),
        (["-timeout=60"], 'time: invalid duration "60"'),
        (["-timeout=0"], "must be positive"),
        (["-namespace-regexp=("], "invalid -namespace-regexp"),
        (["-zap-encoding=xml"], "invalid -zap-encoding"),
        (["-port"], "flag needs an argument: -port"),
        (["serve"], "unexpected argument"),
        (["--gates-configmap=gates"], "want <namespace>/<name>"),
        (["--gates-configmap=a/b/c"], "want <namespace>/<name>"),
    ],
)
def test_bad_flags_say_why(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(argv, {})


def test_bad_environment_value_is_an_error_too() -> None:
    with pytest.raises(SettingsError, match="invalid port"):
        parse_settings([], {"LOADTESTER_PORT": "x"})


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["-port=1", "-help"]])
def test_help(argv: list[str]) -> None:
    with pytest.raises(HelpRequested):
        parse_settings(argv, {})


def test_settings_are_frozen() -> None:
    settings = parse_settings([], {})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("300ms", 0.3),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("2us", 2e-6),
        ("1µs", 1e-6),
        ("-1s", -1),
        (".5s", 0.5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "60", "1d", "1hh", "h", "1.5", "--1s"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
