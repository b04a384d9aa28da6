# Sourced by the image scripts: picks the container engine and sets ENGINE.
#   docker  when a Docker engine answers `docker info`
#   podman  otherwise (with images/podman/containers.conf through CONTAINERS_CONF unless one is set)
# IMAGE_ENGINE=docker|podman forces one.
images_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ -n ${IMAGE_ENGINE:-} ]]; then
  ENGINE=$IMAGE_ENGINE
elif command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  ENGINE=docker
elif command -v podman >/dev/null; then
  ENGINE=podman
else
  ENGINE=
fi
if [[ $ENGINE == podman ]]; then
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$images_repo/images/podman/containers.conf}
fi
export ENGINE
