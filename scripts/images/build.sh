#!/usr/bin/env bash
# `make images`: builds the controller and load tester images with docker or podman (scripts/images/engine.sh).
#   scripts/images/build.sh CONTROLLER_TAG LOADTESTER_TAG
# The base is python:3.11-slim-bookworm when the engine has it or can pull it; otherwise the stand-in
# localhost/python:3.11-slim-bookworm from Debian packages (`make base-image`), and then the load tester's
# tools come from local files too (TOOLS_SOURCE=local, scripts/images/local-tools.sh). TOOLS_SOURCE=download
# or local forces one. Both builds use the engine's layer cache: the images share their base layers.
set -euo pipefail
controller_tag=${1:?usage: build.sh CONTROLLER_TAG LOADTESTER_TAG}
loadtester_tag=${2:?usage: build.sh CONTROLLER_TAG LOADTESTER_TAG}
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/images/engine.sh
source scripts/images/engine.sh
if [[ -z $ENGINE ]]; then
  echo "images: neither a Docker engine (docker info) nor podman is available; install podman (apt-get install podman buildah runc) or start Docker" >&2
  exit 1
fi
echo "images: building with $ENGINE ($($ENGINE --version))"

# fully qualified: podman would otherwise resolve the short name to the stand-in as well
registry_base=docker.io/library/python:3.11-slim-bookworm
local_base=localhost/python:3.11-slim-bookworm
has_image() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }
if has_image "$registry_base" || timeout 120 "$ENGINE" pull -q "$registry_base" >/dev/null 2>&1; then
  base=$registry_base
else
  echo "images: cannot pull $registry_base; using the Debian stand-in $local_base"
  has_image "$local_base" || bash scripts/images/build-base-image.sh "$ENGINE" "$local_base"
  base=$local_base
fi
tools_source=${TOOLS_SOURCE:-$([[ $base == "$local_base" ]] && echo local || echo download)}

started=$SECONDS
"$ENGINE" build --build-arg "PYTHON_IMAGE=$base" \
  -f images/controller/Dockerfile -t "$controller_tag" .
loadtester_args=(--build-arg "PYTHON_IMAGE=$base" --build-arg "TOOLS_SOURCE=$tools_source")
if [[ $tools_source == local ]]; then
  bash scripts/images/local-tools.sh .tools/images/local-tools
  loadtester_args+=(--build-context "local-tools=.tools/images/local-tools")
fi
"$ENGINE" build "${loadtester_args[@]}" -f images/loadtester/Dockerfile -t "$loadtester_tag" .

echo "images: built with $ENGINE from $base (load tester tools: $tools_source) in $((SECONDS - started)) s"
for tag in "$controller_tag" "$loadtester_tag"; do
  echo "images: $tag $("$ENGINE" image inspect --format '{{.Size}}' "$tag" | awk '{printf "%d MB", $1 / 1e6}')"
done
