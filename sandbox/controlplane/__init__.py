"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) on
loopback, from the binaries `make control-plane` builds. See `launcher.ControlPlane`."""

from .binaries import COMPONENTS, find_binaries, why_missing
from .launcher import ControlPlane, ControlPlaneError, StaticUser, describe
from .pki import KeyPair

__all__ = [
    "COMPONENTS",
    "ControlPlane",
    "ControlPlaneError",
    "KeyPair",
    "StaticUser",
    "describe",
    "find_binaries",
    "why_missing",
]
