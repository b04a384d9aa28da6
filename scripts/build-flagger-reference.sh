#!/usr/bin/env bash
# Builds Flagger's controller (github.com/fluxcd/flagger/cmd/flagger) as a TEST REFERENCE for bench/compare:
#   .tools/flagger/<version>/flagger
# from the Go module in flaggerref/ (Flagger pinned there as a `tool`, checksums in go.sum; sources from the
# Go module proxy, nothing of Flagger's source tree is committed here). Never shipped, never imported.
# Idempotent: a binary newer than the module files is kept; the Go build cache makes a rebuild take seconds.
# A cold build is about 250 CPU-seconds (several minutes on 2 shared cores).
set -euo pipefail
cd "$(dirname "$0")/.."
module=flaggerref
version=$(awk '$1 == "github.com/fluxcd/flagger" {print $2; exit} $2 == "github.com/fluxcd/flagger" {print $3; exit}' "$module/go.mod")
[[ $version == v1.* ]] || { echo "flagger-reference: cannot read the github.com/fluxcd/flagger version from $module/go.mod" >&2; exit 1; }
out=${FLAGGER_REFERENCE_DIR:-$PWD/.tools/flagger/$version}
target="$out/flagger"
command -v go >/dev/null || { echo "flagger-reference: no go on PATH (Flagger $version needs Go >= 1.26)" >&2; exit 1; }
if [[ -x $target && $target -nt $module/go.sum && $target -nt $module/go.mod ]]; then
  echo "flagger-reference: flagger $version is up to date ($target)"
else
  mkdir -p "$out"
  echo "flagger-reference: downloading modules for flagger $version (Go module proxy) ..."
  (cd "$module" && go mod download)
  echo "flagger-reference: building flagger $version (a progress line every 50 packages) ..."
  start=$SECONDS
  log="$out/build.log"
  if ! (cd "$module" && go build -v -trimpath -ldflags "-s -w" -o "$target.tmp" github.com/fluxcd/flagger/cmd/flagger) 2>&1 |
    tee "$log" | awk '{n++; if (n % 50 == 0) {printf "flagger-reference: %d packages compiled (%s)\n", n, $0; fflush()}}'; then
    echo "flagger-reference: go build failed; the last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  [[ -x $target.tmp ]] || { echo "flagger-reference: go build produced no binary" >&2; exit 1; }
  mv "$target.tmp" "$target"
  echo "flagger-reference: built flagger $version in $((SECONDS - start)) s"
fi
ln -sfn "$version" "$(dirname "$out")/current"
echo "flagger-reference: $target"
