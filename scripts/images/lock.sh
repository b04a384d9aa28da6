#!/usr/bin/env bash
# The images' Python dependencies, pinned with hashes: images/<image>/requirements.in -> requirements.txt.
#   scripts/images/lock.sh UV            regenerate (keeps existing pins; `UPGRADE=1` takes the newest)
#   scripts/images/lock.sh UV --check    fail when a lock file is out of sync with its .in file
# uv resolves for CPython 3.11 on Linux (the images' interpreter) and records every file's hash of each
# pinned version, so pip's --require-hashes works on any architecture the wheels exist for.
set -euo pipefail
uv=${1:?usage: lock.sh UV [--check]}
mode=${2:-write}
cd "$(dirname "$0")/../.."
status=0
for input in images/*/requirements.in; do
  lock=${input%.in}.txt
  output=$lock
  if [[ $mode == --check ]]; then
    output=$(mktemp)
    [[ -f $lock ]] && cp "$lock" "$output"
  fi
  upgrade=()
  [[ -n ${UPGRADE:-} ]] && upgrade=(--upgrade)
  "$uv" pip compile --quiet --generate-hashes --python-version 3.11 --python-platform linux \
    --custom-compile-command "make lock" "${upgrade[@]}" --output-file "$output" "$input"
  if [[ $mode == --check ]]; then
    if ! diff -u "$lock" "$output"; then
      echo "lock-check: $lock is out of sync with $input; run \`make lock\` and commit the result" >&2
      status=1
    fi
    rm -f "$output"
  else
    echo "lock: $lock ($(grep -c '==' "$lock") pinned packages)"
  fi
done
exit $status
