#!/usr/bin/env bash
# Builds a stand-in for python:3.11-slim-bookworm from Debian packages, for machines that cannot pull from
# an image registry, and imports it into the engine as localhost/python:3.11-slim-bookworm.
#   scripts/images/build-base-image.sh <engine: podman|docker> [image name]
# Debian 12's python3 is 3.11, so the images' `python -m venv` and the locked wheels (cp311) work the same.
# The machine's extra CA certificates (/usr/local/share/ca-certificates) go in, so pip inside the image
# builds trusts the same TLS endpoints as the machine that builds them.
set -euo pipefail
engine=${1:?usage: build-base-image.sh podman|docker [image]}
image=${2:-localhost/python:3.11-slim-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

command -v mmdebstrap >/dev/null || {
  echo "base-image: mmdebstrap is missing (apt-get install mmdebstrap)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

certs=()
for cert in /usr/local/share/ca-certificates/*.crt; do [[ -e $cert ]] && certs+=("$cert"); done
mkdir -p "$work/certs"
((${#certs[@]})) && cp "${certs[@]}" "$work/certs/"

echo "base-image: mmdebstrap bookworm (python3, python3-venv, ca-certificates) from $mirror"
start=$SECONDS
# The official image's slimming: no docs, man pages or locales; apt keeps no package cache or lists.
mmdebstrap --variant=minbase --quiet \
  --include=python3,python3-venv,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="mkdir -p \"\$1/usr/local/share/ca-certificates\"" \
  --customize-hook="copy-in $work/certs/. /usr/local/share/ca-certificates" \
  --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
  --customize-hook='ln -sf python3 "$1/usr/bin/python"' \
  --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";" > "$1/etc/apt/apt.conf.d/docker-clean"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/* "$1"/tmp/*' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security_mirror bookworm-security main"

"$engine" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "base-image: $image ready in $((SECONDS - start)) s ($(du -m "$work/rootfs.tar" | cut -f1) MB uncompressed)"
