"""controller.settings: Flagger's command lines, env overrides and fallbacks, and clear errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from controller.settings import (
    FLAGS,
    HelpRequested,
    Settings,
    SettingsError,
    env_fallback_name,
    main,
    parse_settings,
)

# The command line Flagger's Helm chart renders for the tutorial's install (prometheus.install=true,
# meshProvider=kubernetes, slack values), as it appears in the Deployment's `command`.
FLAGGER_CHART_COMMAND_LINE = [
    "-log-level=info",
    "-mesh-provider=kubernetes",
    "-metrics-server=http://flagger-prometheus:9090",
    "-enable-config-tracking=true",
    "-slack-url=https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK",
    "-slack-user=flagger",
    "-slack-channel=general",
    "-enable-leader-election=true",
    "-leader-election-namespace=flagger",
    "-include-label-prefix=app.kubernetes.io",
    "-threadiness=4",
    "-cluster-name=prod-eu",
    "-no-cross-namespace-refs=true",
]


def test_defaults_follow_flaggers_binary_except_the_mesh_provider() -> None:
    settings = parse_settings([], {})
    assert settings == Settings()
    assert settings.metrics_server == "http://prometheus:9090"
    assert settings.log_level == "debug"
    assert settings.control_loop_interval == 10.0
    assert settings.min_analysis_interval == 10.0
    assert settings.port == 8080
    assert settings.selector_labels == ("app", "name", "app.kubernetes.io/name")
    assert settings.enable_config_tracking is True
    assert settings.slack_user == "flagger"
    assert settings.leader_election_namespace == "kube-system"
    assert settings.kubeconfig_qps == 100 and settings.kubeconfig_burst == 250
    assert settings.mesh_provider == "kubernetes"


def test_every_flag_has_a_settings_field() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    assert {flag.target for flag in FLAGS.flags} | {"klog"} == fields  # klog: controller.klog_flags


def test_the_flagger_chart_command_line_parses() -> None:
    settings = parse_settings(FLAGGER_CHART_COMMAND_LINE, {})
    assert settings.log_level == "info"
    assert settings.mesh_provider == "kubernetes"
    assert settings.metrics_server == "http://flagger-prometheus:9090"
    assert settings.slack_url == "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK"
    assert settings.slack_channel == "general"
    assert settings.enable_leader_election is True
    assert settings.leader_election_namespace == "flagger"
    assert settings.include_label_prefix == ("app.kubernetes.io",)
    assert settings.threadiness == 4
    assert settings.cluster_name == "prod-eu"
    assert settings.no_cross_namespace_refs is True


@pytest.mark.parametrize(
    "argv",
    [
        ["-log-level=info", "-metrics-server=http://x:9090"],
        ["-log-level", "info", "-metrics-server", "http://x:9090"],
        ["--log-level=info", "--metrics-server=http://x:9090"],
        ["--log-level", "info", "--metrics-server", "http://x:9090"],
    ],
)
def test_single_and_double_dash_with_or_without_equals_are_the_same(argv: list[str]) -> None:
    settings = parse_settings(argv, {})
    assert (settings.log_level, settings.metrics_server) == ("info", "http://x:9090")


def test_bare_boolean_flags_mean_true_and_never_consume_the_next_argument() -> None:
    settings = parse_settings(["-enable-leader-election", "-log-level=error"], {})
    assert settings.enable_leader_election is True
    assert settings.log_level == "error"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("T", True), ("False", False), ("0", False)])
def test_booleans_take_gos_spellings(raw: str, expected: bool) -> None:
    assert parse_settings([f"-enable-config-tracking={raw}"], {}).enable_config_tracking is expected


def test_durations_are_go_durations_in_seconds() -> None:
    settings = parse_settings(["-control-loop-interval=1m30s", "--min-analysis-interval=250ms"], {})
    assert settings.control_loop_interval == 90.0
    assert settings.min_analysis_interval == 0.25


def test_the_history_save_interval_is_a_duration_and_never_negative() -> None:
    assert parse_settings([], {}).analysis_history_save_interval == 10.0
    assert parse_settings(["-analysis-history-save-interval=1m"], {}).analysis_history_save_interval == 60.0
    with pytest.raises(SettingsError, match="-analysis-history-save-interval must not be negative"):
        parse_settings(["-analysis-history-save-interval=-1s"], {})


def test_the_last_occurrence_of_a_flag_wins_as_in_go() -> None:
    assert parse_settings(["-log-level=info", "-log-level=error"], {}).log_level == "error"


def test_comma_lists_drop_blanks() -> None:
    settings = parse_settings(["-selector-labels=app, name,,"], {})
    assert settings.selector_labels == ("app", "name")


def test_lease_namespace_is_the_watched_namespace_when_set() -> None:
    assert parse_settings([], {}).leader_election_lease_namespace == "kube-system"
    assert parse_settings(["-namespace=test"], {}).leader_election_lease_namespace == "test"


def test_flaggers_environment_overrides_win_over_flags_when_non_empty() -> None:
    environ = {
        "SLACK_URL": "https://hooks.slack.com/from-secret",
        "SLACK_TOKEN": "xoxb-1",
        "MSTEAMS_URL": "",  # empty: the flag stays
        "EVENT_WEBHOOK_URL": "http://events.sink:8080/",
    }
    settings = parse_settings(
        ["-slack-url=https://hooks.slack.com/from-flag", "-msteams-url=https://teams.example/hook"], environ
    )
    assert settings.slack_url == "https://hooks.slack.com/from-secret"
    assert settings.slack_token == "xoxb-1"
    assert settings.msteams_url == "https://teams.example/hook"
    assert settings.event_webhook == "http://events.sink:8080/"


def test_flagman_env_fallbacks_apply_only_when_the_flag_is_absent() -> None:
    environ = {
        env_fallback_name("metrics-server"): "http://prometheus.monitoring:9090",
        env_fallback_name("log-level"): "warn",
        env_fallback_name("enable-leader-election"): "true",
    }
    settings = parse_settings(["-log-level=info"], environ)
    assert settings.metrics_server == "http://prometheus.monitoring:9090"
    assert settings.log_level == "info"
    assert settings.enable_leader_election is True
    assert env_fallback_name("metrics-server") == "FLAGMAN_METRICS_SERVER"


def test_log_format_text_is_zaps_console_encoding() -> None:
    assert parse_settings(["--log-format", "text"], {}).zap_encoding == "console"
    assert parse_settings(["--log-format=text"], {}).log_format == "text"
    assert parse_settings([], {}).log_format == "json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-no-such-flag=1"], "flag provided but not defined: -no-such-flag"),
        (["-enable-leader-election", "false"], "unexpected argument 'false'"),
        (["-threadiness=two"], 'invalid value "two" for flag -threadiness: parse error'),
        (
            ["-enable-config-tracking=yes"],
            'invalid value "yes" for flag -enable-config-tracking: '
            'strconv.ParseBool: parsing "yes": invalid syntax',
        ),
        (
            ["-control-loop-interval=10"],
            'invalid value "10" for flag -control-loop-interval: time: invalid duration "10"',
        ),
        (["-mesh-provider=istio"], "'istio' is a Flagger provider that Flagman does not implement"),
        (["-mesh-provider=kubernets"], "unknown mesh provider 'kubernets'"),
        (["-log-level=verbose"], "invalid -log-level 'verbose'"),
        (["-port=70000"], "invalid -port 70000"),
        (["-threadiness=0"], "invalid -threadiness 0"),
        (["-metrics-server=prometheus:9090"], "invalid URL 'prometheus:9090' for -metrics-server"),
        (["-slack-url=hooks.slack.com"], "invalid URL 'hooks.slack.com' for -slack-url"),
        (["-selector-labels=,"], "-selector-labels needs at least one label"),
        (["-log-level"], "flag needs an argument: -log-level"),
        (["--log-format=xml"], "invalid value 'xml' for flag -log-format"),
    ],
)
def test_bad_input_is_a_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(argv, {})
    assert message in str(raised.value)


def test_bad_environment_fallback_names_the_flag() -> None:
    with pytest.raises(SettingsError, match="-threadiness"):
        parse_settings([], {"FLAGMAN_THREADINESS": "many"})


def test_empty_metrics_server_is_allowed() -> None:
    assert parse_settings(["-metrics-server="], {}).metrics_server == ""


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help(flag: str) -> None:
    with pytest.raises(HelpRequested):
        parse_settings([flag], {})


def test_double_dash_ends_the_flags() -> None:
    assert parse_settings(["-log-level=info", "--"], {}).log_level == "info"
    with pytest.raises(SettingsError, match="unexpected argument 'x'"):
        parse_settings(["--", "x"], {})


def test_module_entry_point_prints_the_settings_as_json() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "controller.settings", "-mesh-provider=kubernetes", "-log-level", "info"],
        capture_output=True,
        text=True,
        check=True,
        env={"FLAGMAN_THREADINESS": "3", "PATH": "/usr/bin:/bin"},
    )
    printed = json.loads(completed.stdout)
    assert printed["log_level"] == "info"
    assert printed["threadiness"] == 3
    assert printed["selector_labels"] == ["app", "name", "app.kubernetes.io/name"]


def test_module_entry_point_exits_2_on_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-bogus"], {}) == 2
    assert "flag provided but not defined: -bogus" in capsys.readouterr().err
    assert main(["-h"], {}) == 0
    assert "-metrics-server=http://prometheus:9090" in capsys.readouterr().out


def test_scheme_less_proxy_is_accepted_as_flaggers_docs_write_it():
    settings = parse_settings(["-slack-proxy-url=my-http-proxy.com:3128"], {})
    assert settings.slack_proxy_url == "my-http-proxy.com:3128"


def test_proxy_with_a_non_http_scheme_is_refused():
    with pytest.raises(SettingsError, match="slack-proxy-url"):
        parse_settings(["-slack-proxy-url=ftp://proxy:21"], {})


def test_listen_address_defaults_to_all_interfaces() -> None:
    assert parse_settings([], {}).listen_address == ""


@pytest.mark.parametrize(
    "argv",
    [["-listen-address=127.42.0.7"], ["--listen-address", "127.42.0.7"], ["-listen-address", " 127.42.0.7 "]],
)
def test_listen_address_flag_in_go_spellings(argv: list[str]) -> None:
    assert parse_settings(argv, {}).listen_address == "127.42.0.7"


def test_listen_address_from_the_environment_and_the_flag_wins() -> None:
    environ = {"FLAGMAN_LISTEN_ADDRESS": "127.0.0.9"}
    assert parse_settings([], environ).listen_address == "127.0.0.9"
    assert parse_settings(["-listen-address=localhost"], environ).listen_address == "localhost"


def test_listen_address_accepts_ipv6_and_normalises_it() -> None:
    assert parse_settings(["-listen-address=0:0::1"], {}).listen_address == "::1"


@pytest.mark.parametrize("raw", ["127.0.0.1:8080", "http://127.0.0.1", "bad host", "-x.example"])
def test_listen_address_with_a_port_or_garbage_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"-listen-address.*without a port"):
        parse_settings([f"-listen-address={raw}"], {})


def test_sharding_flags_default_to_off_16_shards_and_client_gos_timings() -> None:
    settings = parse_settings([], {})
    assert (settings.enable_sharding, settings.shards) == (False, 16)
    assert (settings.shard_lease_duration, settings.shard_renew_deadline, settings.shard_retry_period) == (
        15.0,
        10.0,
        2.0,
    )
    settings = parse_settings(
        ["-enable-sharding", "-shards=12", "-shard-lease-duration=2s", "--shard-retry-period=300ms"], {}
    )
    assert (settings.enable_sharding, settings.shards, settings.shard_lease_duration) == (True, 12, 2.0)
    assert settings.shard_retry_period == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-shards=0"], "invalid -shards 0: must be between 1 and 1024"),
        (["-shards=5000"], "invalid -shards 5000: must be between 1 and 1024"),
        (
            ["-enable-sharding", "-enable-leader-election"],
            "-enable-sharding and -enable-leader-election exclude",
        ),
    ],
)
def test_bad_sharding_flags_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(argv, {})


def test_sharding_timings_that_cannot_keep_the_promise_exit_2_before_connecting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controller", "-enable-sharding", "-shard-lease-duration=10s"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "-shard-lease-duration (10s) must be greater than -shard-renew-deadline (10s)" in result.stderr
