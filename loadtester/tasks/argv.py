"""Split a helm/kubectl command line with shell quoting rules.

Flagger splits on whitespace (`strings.Fields`), so `--set 'a=b c'` or the docs' own
`--overrides='{ "spec": ... }'` arrive mangled. shlex gives the arguments a shell would; for commands
without quotes both splits are identical.
"""

from __future__ import annotations

import shlex

from loadtester.tasks.base import TaskRequestError


def split_arguments(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError as error:
        raise TaskRequestError(400, f"cannot split command {command!r}: {error}") from None
