#!/usr/bin/env bash
# Runs the test suite; pytest's exit code 5 (no test collected) is a failure, never a silent pass.
set -uo pipefail
# The controller integration tests record the controller's API requests here; tests/deploy/test_rbac.py
# (collected after tests/controller) checks the charts' RBAC against every request really made.
FLAGMAN_CONTROLLER_REQUEST_LOG=$(mktemp -t flagman-controller-requests.XXXXXX.jsonl)
export FLAGMAN_CONTROLLER_REQUEST_LOG
trap 'rm -f "$FLAGMAN_CONTROLLER_REQUEST_LOG"' EXIT
.venv/bin/python -m pytest "$@"
rc=$?
if [[ $rc == 5 ]]; then
  echo "run-tests: pytest collected no test; failing" >&2
  exit 1
fi
exit $rc
