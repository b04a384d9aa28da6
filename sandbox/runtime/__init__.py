"""The sandbox runtime: controllers that turn the API server emulator into a small cluster.

Deployments become ReplicaSets and Pods, Pods become local processes on their own loopback IPs, Services
get a loopback ClusterIP with a TCP proxy and a cluster DNS name in a hosts file, and pods annotated for
Prometheus become file_sd scrape targets. Everything talks to the API server through kubernetes_asyncio,
like a kubelet and kube-controller-manager would.
"""

from sandbox.runtime.runtime import Runtime, RuntimeSettings

__all__ = ["Runtime", "RuntimeSettings"]
