#!/usr/bin/env bash
# Runs the test suite; pytest's exit code 5 (no test collected) is a failure, never a silent pass.
set -uo pipefail
.venv/bin/python -m pytest "$@"
rc=$?
if [[ $rc == 5 ]]; then
  echo "run-tests: pytest collected no test; failing" >&2
  exit 1
fi
exit $rc
