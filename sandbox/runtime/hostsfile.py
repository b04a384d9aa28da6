"""The cluster DNS: Service names written to a hosts file that sandbox processes see as /etc/hosts.

Each Service gets `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local` on its ClusterIP. The file is
rewritten in place (same inode), because a bind mount pins the inode: replacing the file by rename
would leave every mount namespace looking at the old version.
"""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.runtime.informer import Key

CLUSTER_DOMAIN = "cluster.local"
MARKER = "# sandbox services (written by the Flagman sandbox runtime)"


def service_names(namespace: str, name: str) -> list[str]:
    return [f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"]


class HostsFile:
    def __init__(self, path: Path, base: str | None = None) -> None:
        self.path = path
        base = base if base is not None else _read_system_hosts()
        self.base = base.split(MARKER, 1)[0]
        self.entries: dict[Key, str] = {}
        self.write()

    def set(self, key: Key, address: str) -> None:
        if self.entries.get(key) != address:
            self.entries[key] = address
            self.write()

    def remove(self, key: Key) -> None:
        if self.entries.pop(key, None) is not None:
            self.write()

    def render(self) -> str:
        lines = [self.base.rstrip("\n"), MARKER]
        for (namespace, name), address in sorted(self.entries.items()):
            lines.append(f"{address}\t{' '.join(service_names(namespace, name))}")
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        """Write in place: open without truncating, write everything in one call, then cut the tail."""
        data = self.render().encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


def _read_system_hosts() -> str:
    try:
        return Path("/etc/hosts").read_text()
    except OSError:
        return "127.0.0.1\tlocalhost\n"
