#!/usr/bin/env bash
# Builds Flagger's controller (github.com/fluxcd/flagger/cmd/flagger) as a TEST REFERENCE for bench/compare:
#   .tools/flagger/<version>/flagger        Flagger as released (client-go speaks protobuf for built-in kinds)
#   .tools/flagger/<version>/flagger-json   the same, with client-go's protobuf default turned off, for the
#                                           sandbox API emulator (it decodes protobuf for a few kinds only)
# from the Go module in flaggerref/ (Flagger pinned there as a `tool`, checksums in go.sum; sources from the
# Go module proxy; nothing of Flagger's or client-go's source is committed here). Never shipped or imported.
# The JSON variant replaces client-go by a copy under .tools in which one function of rest/request.go
# (`UseProtobufAsDefault`) leaves the request's content type alone (`go build -modfile` with a replace).
# Idempotent: binaries newer than the module files are kept; the Go build cache makes a rebuild take seconds.
# A cold build is about 200 CPU-seconds per binary (10 minutes wall time on 2 busy cores for the first).
set -euo pipefail
cd "$(dirname "$0")/.."
module=flaggerref
version=$(awk '$1 == "github.com/fluxcd/flagger" {print $2; exit} $2 == "github.com/fluxcd/flagger" {print $3; exit}' "$module/go.mod")
[[ $version == v1.* ]] || { echo "flagger-reference: cannot read the github.com/fluxcd/flagger version from $module/go.mod" >&2; exit 1; }
out=${FLAGGER_REFERENCE_DIR:-$PWD/.tools/flagger/$version}
command -v go >/dev/null || { echo "flagger-reference: no go on PATH (Flagger $version needs Go >= 1.26)" >&2; exit 1; }
mkdir -p "$out"

build() {  # build <target> [go build flags...]
  local target=$1 start=$SECONDS log="$out/build-$(basename "$1").log"
  shift
  echo "flagger-reference: building $(basename "$target") ($version; a progress line every 50 packages) ..."
  if ! (cd "$module" && go build -v -trimpath -ldflags "-s -w" "$@" -o "$target.tmp" github.com/fluxcd/flagger/cmd/flagger) 2>&1 |
    tee "$log" | awk '{n++; if (n % 50 == 0) {printf "flagger-reference: %d packages compiled (%s)\n", n, $0; fflush()}}'; then
    echo "flagger-reference: go build failed; the last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  [[ -x $target.tmp ]] || { echo "flagger-reference: go build produced no binary" >&2; exit 1; }
  mv "$target.tmp" "$target"
  echo "flagger-reference: built $target in $((SECONDS - start)) s"
}

fresh() { [[ -x $1 && $1 -nt $module/go.sum && $1 -nt $module/go.mod && $1 -nt $0 ]]; }

if fresh "$out/flagger" && fresh "$out/flagger-json"; then
  echo "flagger-reference: flagger $version is up to date ($out)"
else
  echo "flagger-reference: downloading modules for flagger $version (Go module proxy) ..."
  (cd "$module" && go mod download)
  fresh "$out/flagger" || build "$out/flagger"
  if ! fresh "$out/flagger-json"; then
    # Files in the module cache cannot be overlaid: a patched copy of client-go replaces it (go build -modfile).
    client_go=$(cd "$module" && go list -m -f '{{.Dir}}' k8s.io/client-go)
    copy="$out/client-go-json"
    rm -rf "$copy" && cp -r "$client_go" "$copy" && chmod -R u+w "$copy"
    awk '{print} /^func \(r \*Request\) UseProtobufAsDefault\(\) \*Request \{$/ {print "\tif true {\n\t\treturn r // flagger-json: keep JSON, the sandbox API emulator decodes protobuf for a few kinds only\n\t}"; patched=1}
         END {if (!patched) exit 1}' "$client_go/rest/request.go" >"$copy/rest/request.go" ||
      { echo "flagger-reference: client-go's rest/request.go has no UseProtobufAsDefault to patch" >&2; exit 1; }
    cp "$module/go.mod" "$out/json.mod" && cp "$module/go.sum" "$out/json.sum"
    echo "replace k8s.io/client-go => $copy" >>"$out/json.mod"
    build "$out/flagger-json" -modfile="$out/json.mod"
  fi
fi
ln -sfn "$version" "$(dirname "$out")/current"
echo "flagger-reference: $out/flagger, $out/flagger-json"
