"""The cluster DNS: Service names written to hosts files that sandbox processes see as /etc/hosts.

Each Service gets `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local` on its ClusterIP. Pods also
resolve the bare `name` of Services in their own namespace, as resolv.conf's search domains give them in a
cluster: every namespace has its own file (`hosts.d/<ns>`) with those short names added, which the pod
runtime bind-mounts for the pods of that namespace; the main file (fully-qualified names only) is for
everything else in the sandbox. Files are rewritten in place (same inode), because a bind mount pins
the inode: replacing a file by rename would leave every mount namespace looking at the old version.
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
        self.namespaces: set[str] = set()
        self.write()

    def path_for(self, namespace: str) -> Path:
        """The hosts file for pods of `namespace` (created on first use)."""
        path = self.path.parent / f"{self.path.name}.d" / namespace
        if namespace not in self.namespaces:
            self.namespaces.add(namespace)
            _write_in_place(path, self.render(namespace).encode())
        return path

    def set(self, key: Key, address: str) -> None:
        if self.entries.get(key) != address:
            self.entries[key] = address
            self.write()

    def remove(self, key: Key) -> None:
        if self.entries.pop(key, None) is not None:
            self.write()

    def render(self, namespace: str | None = None) -> str:
        """The main file, or with `namespace` the file for its pods (short names of its Services too)."""
        lines = [self.base.rstrip("\n"), MARKER]
        for (service_namespace, name), address in sorted(self.entries.items()):
            names = service_names(service_namespace, name)
            if service_namespace == namespace:
                names.append(name)
            lines.append(f"{address}\t{' '.join(names)}")
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        _write_in_place(self.path, self.render().encode())
        for namespace in self.namespaces:
            _write_in_place(
                self.path.parent / f"{self.path.name}.d" / namespace, self.render(namespace).encode()
            )


def _write_in_place(path: Path, data: bytes) -> None:
    """Open without truncating, write everything in one call, then cut the tail: the inode stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
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
