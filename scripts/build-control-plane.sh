#!/usr/bin/env bash
# Builds the real Kubernetes control plane for the tests and the sandbox's real backend:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler  ->  .tools/control-plane/<version>/
# from the Go module in controlplane/ (k8s.io/kubernetes pinned there, checksums in go.sum).
# Idempotent: a binary built from the same module files (a stamp of their checksums next to it, not their
# modification times, so a fresh clone reuses a cached .tools) is kept; the Go build cache makes a rebuild
# take seconds to a minute.
# A cold build is about 1,200 CPU-seconds (about 12-15 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
module=controlplane
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit} $2 == "k8s.io/kubernetes" {print $3; exit}' "$module/go.mod")
[[ $k8s_version == v1.* ]] || { echo "control-plane: cannot read the k8s.io/kubernetes version from $module/go.mod" >&2; exit 1; }
minor=$(cut -d. -f2 <<<"$k8s_version")
out=${CONTROL_PLANE_DIR:-$PWD/.tools/control-plane/$k8s_version}
mkdir -p "$out"
command -v go >/dev/null || { echo "control-plane: no go on PATH (Go >= 1.24 needed)" >&2; exit 1; }
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean"
for component in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  target="$out/$component"
  stamp=$(cat "$module/go.mod" "$module/go.sum" "$module/cmd/$component/main.go" | sha256sum | cut -d' ' -f1)
  stamp="$stamp $(go env GOVERSION)"
  if [[ -x $target && -f $target.stamp && $(cat "$target.stamp") == "$stamp" ]]; then
    echo "control-plane: $component $k8s_version is up to date ($target)"
    continue
  fi
  echo "control-plane: building $component ($k8s_version) ..."
  start=$SECONDS
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$target.tmp" "./cmd/$component")
  mv "$target.tmp" "$target"
  echo "$stamp" >"$target.stamp"
  echo "control-plane: built $component in $((SECONDS - start)) s"
done
ln -sfn "$k8s_version" "$(dirname "$out")/current"
echo "control-plane: $out"
