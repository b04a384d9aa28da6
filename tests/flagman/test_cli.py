"""The `flagman` dispatcher: help, unknown commands, and the real console script."""

import subprocess
import sys

from flagman.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "flagman", "help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage: flagman" in result.stdout
