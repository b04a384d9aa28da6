"""`ControlPlane`: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

Every component has its own identity: static bearer tokens for the admin (group `system:masters`),
`system:kube-controller-manager` and `system:kube-scheduler` (their bootstrap RBAC roles apply), and the
apiserver presents a client certificate to kubelets. The apiserver authorizes with `Node,RBAC`, so RBAC is
enforced as on a real cluster. All ports are free loopback ports, so several control planes can run side
by side. Nothing is reachable from outside the machine.

    with ControlPlane(workdir, find_binaries()) as cp:
        subprocess.run(["kubectl", "--kubeconfig", cp.admin_kubeconfig, "get", "ns"])
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .binaries import apiserver_version
from .kubeconfig import write_kubeconfig
from .pki import CertificateAuthority, KeyPair, service_account_keys
from .processes import Component

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
ADMIN_USER = "flagman-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: The user the apiserver presents to kubelets (`kubectl logs`/`exec`); group system:masters, as kubeadm's.
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"

Progress = Callable[[str], None]


class ControlPlaneError(Exception):
    """A component failed to start or did not become ready; the message carries its log tail."""


@dataclass(frozen=True)
class StaticUser:
    """A bearer token the apiserver accepts (`--token-auth-file`), for a user in `groups`."""

    name: str
    token: str
    groups: tuple[str, ...] = ()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _service_ip(cidr: str) -> str:
    """The first address of the service range: the `kubernetes` Service's ClusterIP."""
    network = ipaddress.ip_network(cidr, strict=True)
    return str(network.network_address + 1)


class ControlPlane:
    """A real Kubernetes control plane in `workdir`, from the executables in `binaries`."""

    def __init__(
        self,
        workdir: Path,
        binaries: Path,
        *,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        kubelet_certificate_authority: Path | None = None,
        extra_users: Sequence[StaticUser] = (),
        extra_apiserver_args: Sequence[str] = (),
        progress: Progress | None = None,
        ready_timeout: float = 180.0,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.binaries = Path(binaries)
        self.service_cidr = service_cidr
        self._kubelet_ca = kubelet_certificate_authority
        self._extra_users = tuple(extra_users)
        self._extra_apiserver_args = tuple(extra_apiserver_args)
        self._progress = progress or (lambda message: log.info("%s", message))
        self.ready_timeout = ready_timeout
        self.version = apiserver_version(self.binaries)
        self.pki_dir = self.workdir / "pki"
        self.ca = CertificateAuthority(self.pki_dir)
        self.ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "kcm", "scheduler")}
        self.admin_token = secrets.token_hex(24)
        self._component_tokens = {
            "kube-controller-manager": secrets.token_hex(24),
            "kube-scheduler": secrets.token_hex(24),
        }
        self.components: dict[str, Component] = {}
        self.kubelet_client: KeyPair | None = None
        self.started_at: float | None = None

    # -- what users of the control plane read ------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.ports['apiserver']}"

    @property
    def ca_file(self) -> Path:
        return self.ca.cert

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "kubeconfigs" / "admin.kubeconfig"

    @property
    def service_ip(self) -> str:
        """The `kubernetes` Service's ClusterIP, the first address of the service range."""
        return _service_ip(self.service_cidr)

    @property
    def kubelet_certificate_authority(self) -> Path:
        """The CA the apiserver checks kubelet serving certificates against
        (`--kubelet-certificate-authority`): the option given, else this control plane's own CA (see
        `issue_kubelet_serving_certificate`)."""
        return self._kubelet_ca or self.ca.cert

    def kubelet_flags(self) -> list[str]:
        """The apiserver's `--kubelet-*` flags: how it reaches a node agent serving the kubelet API."""
        assert self.kubelet_client is not None, "the control plane's certificates are made by start()"
        return [
            f"--kubelet-certificate-authority={self.kubelet_certificate_authority}",
            f"--kubelet-client-certificate={self.kubelet_client.cert}",
            f"--kubelet-client-key={self.kubelet_client.key}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
        ]

    def kubeconfig_for(self, user_token: str, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig for a bearer token (a ServiceAccount's from the TokenRequest API, or a static one)."""
        return write_kubeconfig(
            path, server=self.url, ca_file=self.ca_file, user={"token": user_token}, user_name="token-user",
            namespace=namespace,
        )  # fmt: skip

    def client_certificate(self, name: str, user: str, groups: Sequence[str] = ()) -> KeyPair:
        """A client certificate for `user` in `groups` (e.g. `system:node:NAME` in `system:nodes`)."""
        return self.ca.issue(f"client-{name}", user, organizations=groups, client=True)

    def kubeconfig_for_certificate(self, pair: KeyPair, path: Path, namespace: str = "default") -> Path:
        user = {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
        return write_kubeconfig(
            path, server=self.url, ca_file=self.ca_file, user=user, user_name="cert-user", namespace=namespace
        )

    def issue_kubelet_serving_certificate(self, node_name: str, addresses: Sequence[str]) -> KeyPair:
        """A serving certificate a node agent presents on the kubelet port (trusted by the apiserver when
        no other `kubelet_certificate_authority` was given)."""
        return self.ca.issue(
            f"kubelet-{node_name}", f"system:node:{node_name}", organizations=["system:nodes"],
            dns_names=[node_name], ip_addresses=list(addresses), server=True,
        )  # fmt: skip

    def admin_request(self, method: str, path: str, body: Any = None, *, content_type: str = "") -> Any:
        """One API request as the admin, TLS verified; the decoded JSON answer. HTTP errors raise
        `urllib.error.HTTPError` (its `.code` is the status)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.admin_token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type or (
                "application/merge-patch+json" if method == "PATCH" else "application/json"
            )
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read() or b"null")

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.components.items() if c.pid is not None and c.running()}

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._prepare()
            self._start_etcd()
            self._start_apiserver()
            self._start_controllers()
        except BaseException:
            self.stop()
            raise
        self.started_at = time.time()
        self._progress(
            f"control plane {self.version} ready at {self.url} in {time.monotonic() - started:.1f}s"
        )
        return self

    def stop(self) -> None:
        """Stop every component (newest first) with its whole process group."""
        for name in reversed(list(self.components)):
            self.components[name].stop()
        self.components.clear()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- start-up steps ---------------------------------------------------------------------------------
    def _prepare(self) -> None:
        self._progress("control plane: making certificates and keys")
        ca = CertificateAuthority.create(self.pki_dir, "flagman-control-plane-ca")
        self.ca = ca
        self.serving = ca.issue(
            "apiserver", "kube-apiserver",
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"],
            ip_addresses=[HOST, self.service_ip], server=True,
        )  # fmt: skip
        self.kubelet_client = ca.issue(
            "apiserver-kubelet-client", KUBELET_CLIENT_USER, organizations=["system:masters"], client=True
        )
        self.service_account = service_account_keys(self.pki_dir)
        users = [
            StaticUser(ADMIN_USER, self.admin_token, ("system:masters",)),
            StaticUser("system:kube-controller-manager", self._component_tokens["kube-controller-manager"]),
            StaticUser("system:kube-scheduler", self._component_tokens["kube-scheduler"]),
            *self._extra_users,
        ]
        self.token_file = self.pki_dir / "tokens.csv"
        self.token_file.write_text(
            "".join(f'{u.token},{u.name},{u.name},"{",".join(u.groups)}"\n' for u in users)
        )
        self.token_file.chmod(0o600)
        write_kubeconfig(
            self.admin_kubeconfig, server=self.url, ca_file=self.ca_file, user={"token": self.admin_token},
            user_name=ADMIN_USER,
        )  # fmt: skip
        for component, token in self._component_tokens.items():
            write_kubeconfig(
                self._component_kubeconfig(component), server=self.url, ca_file=self.ca_file,
                user={"token": token}, user_name=f"system:{component}",
            )  # fmt: skip

    def _component_kubeconfig(self, component: str) -> Path:
        return self.workdir / "kubeconfigs" / f"{component}.kubeconfig"

    def _env(self) -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if not key.startswith("KUBECONFIG")}

    def _launch(self, name: str, args: list[str]) -> Component:
        component = Component(name, [str(self.binaries / name), *args], self.log_path(name), self._env())
        self.components[name] = component
        component.start()
        return component

    def _start_etcd(self) -> None:
        client = f"http://{HOST}:{self.ports['etcd']}"
        peer = f"http://{HOST}:{self.ports['etcd-peer']}"
        self._progress(f"control plane: starting etcd on {client}")
        etcd = self._launch(
            "etcd",
            [
                "--name=flagman",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=flagman={peer}",
                "--log-level=warn",
                "--unsafe-no-fsync",  # a throw-away store: no fsync keeps a busy shared disk out of the way
            ],
        )
        self._wait(etcd, f"{client}/health", lambda body: json.loads(body).get("health") == "true")

    def _start_apiserver(self) -> None:
        self._progress(f"control plane: starting kube-apiserver {self.version} on {self.url}")
        apiserver = self._launch(
            "kube-apiserver",
            [
                f"--etcd-servers=http://{HOST}:{self.ports['etcd']}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={self.ports['apiserver']}",
                f"--tls-cert-file={self.serving.cert}",
                f"--tls-private-key-file={self.serving.key}",
                f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={self.token_file}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self.service_account.cert}",
                f"--service-account-signing-key-file={self.service_account.key}",
                f"--service-cluster-ip-range={self.service_cidr}",
                # The `kubernetes` endpoint would be 127.0.0.1, which EndpointSlices refuse.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                *self.kubelet_flags(),
                *self._extra_apiserver_args,
            ],
        )
        self._wait(apiserver, f"{self.url}/readyz", lambda body: body.strip() == "ok", token=self.admin_token)

    def _start_controllers(self) -> None:
        kcm_kubeconfig = self._component_kubeconfig("kube-controller-manager")
        self._progress("control plane: starting kube-controller-manager and kube-scheduler")
        kcm = self._launch(
            "kube-controller-manager",
            [
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                f"--bind-address={HOST}",
                f"--secure-port={self.ports['kcm']}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",  # each controller acts as its own SA
                f"--service-account-private-key-file={self.service_account.key}",
                f"--root-ca-file={self.ca_file}",
                f"--cluster-signing-cert-file={self.ca.cert}",
                f"--cluster-signing-key-file={self.ca.key}",
                f"--service-cluster-ip-range={self.service_cidr}",
                "--profiling=false",
            ],
        )
        scheduler_kubeconfig = self._component_kubeconfig("kube-scheduler")
        scheduler = self._launch(
            "kube-scheduler",
            [
                f"--kubeconfig={scheduler_kubeconfig}",
                f"--authentication-kubeconfig={scheduler_kubeconfig}",
                f"--authorization-kubeconfig={scheduler_kubeconfig}",
                f"--bind-address={HOST}",
                f"--secure-port={self.ports['scheduler']}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
            ],
        )
        # Their serving certificates are self-signed (cert-dir): /healthz is checked without verification.
        self._wait(kcm, f"https://{HOST}:{self.ports['kcm']}/healthz", _is_ok, verify=False)
        self._wait(scheduler, f"https://{HOST}:{self.ports['scheduler']}/healthz", _is_ok, verify=False)
        self._progress("control plane: waiting for the default ServiceAccount (the controllers at work)")
        default_sa = f"{self.url}/api/v1/namespaces/default/serviceaccounts/default"
        self._wait(kcm, default_sa, bool, token=self.admin_token, what="default ServiceAccount created")

    # -- waiting ----------------------------------------------------------------------------------------
    def _wait(
        self,
        component: Component,
        url: str,
        accept: Callable[[str], bool],
        *,
        token: str | None = None,
        verify: bool = True,
        what: str = "",
    ) -> None:
        """Poll `url` until `accept(body)`; fail fast with the log tail if the component exits."""
        what = what or f"{component.name} ready"
        context = ssl.create_default_context(cafile=str(self.ca_file)) if verify else _unverified()
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        started = time.monotonic()
        deadline = started + self.ready_timeout
        last = "no answer yet"
        reported = started
        while True:
            code = component.exit_code()
            if code is not None:
                raise ControlPlaneError(
                    f"{component.name} exited with code {code} during start-up "
                    f"(log {component.log_path}):\n{component.log_tail()}"
                )
            try:
                with urllib.request.urlopen(request, timeout=5, context=context) as response:
                    body = response.read().decode(errors="replace")
                if accept(body):
                    self._progress(f"control plane: {what} ({time.monotonic() - started:.1f}s)")
                    return
                last = body[:200]
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {_failed_checks(error.read().decode(errors='replace'))}"
            except (OSError, ValueError) as error:
                last = str(error)
            now = time.monotonic()
            if now > deadline:
                raise ControlPlaneError(
                    f"{what}: not within {self.ready_timeout:g}s at {url}: {last}\n"
                    f"(log {component.log_path}):\n{component.log_tail()}"
                )
            if now - reported >= 10:
                reported = now
                self._progress(f"control plane: still waiting: {what} ({now - started:.0f}s): {last}")
            time.sleep(0.2)


def _failed_checks(body: str) -> str:
    """The checks a verbose /readyz answer says still fail (`[-]poststarthook/x failed`), else its start."""
    failed = [
        line[3:].split(" failed")[0].removeprefix("poststarthook/")
        for line in body.splitlines()
        if line.startswith("[-]")
    ]
    return "pending: " + ", ".join(failed) if failed else body[:300]


def _is_ok(body: str) -> bool:
    return body.strip() == "ok"


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def describe(plane: ControlPlane) -> dict[str, Any]:
    """Where everything is, for a status record."""
    return {
        "version": plane.version,
        "apiserver": plane.url,
        "kubeconfig": str(plane.admin_kubeconfig),
        "ca": str(plane.ca_file),
        "service_cidr": plane.service_cidr,
        "pids": plane.pids(),
        "logs": str(plane.workdir / "logs"),
    }
