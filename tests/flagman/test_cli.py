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


def test_a_command_whose_package_is_not_installed_says_so(capsys, monkeypatch):
    """The images carry one deployable each: `flagman sandbox` in the controller image is a clear error."""
    monkeypatch.setitem(COMMANDS, "absent", ("no_such_flagman_part.cli", "not installed"))
    assert main(["absent"]) == 2
    assert "'absent' is not part of this installation" in capsys.readouterr().err


def test_a_missing_dependency_inside_a_command_is_not_hidden(monkeypatch, tmp_path):
    (tmp_path / "broken_part").mkdir()
    (tmp_path / "broken_part" / "__init__.py").write_text("")
    (tmp_path / "broken_part" / "cli.py").write_text("import no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "broken", ("broken_part.cli", "imports something missing"))
    try:
        main(["broken"])
    except ModuleNotFoundError as error:
        assert error.name == "no_such_dependency"
    else:
        raise AssertionError("the missing dependency was swallowed")
