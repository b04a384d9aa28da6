"""The control plane's certificates, made with the `openssl` command line (OpenSSL 3).

One CA signs everything: the apiserver's serving certificate, the client certificates of the components
and of the apiserver towards kubelets, and (for a node agent) kubelet serving certificates. Keys are
ECDSA P-256 (fast to make, accepted by Go's TLS and Python's ssl); the service-account signing key is
RSA 2048, the common choice for RS256 tokens.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DAYS = 365


class PkiError(Exception):
    """openssl is missing or refused a request."""


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    try:
        result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise PkiError(
            "the real control plane needs the `openssl` command (apt-get install openssl)"
        ) from error
    if result.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _subject(common_name: str, organizations: Sequence[str]) -> str:
    for part in (common_name, *organizations):
        if "/" in part or "=" in part:
            raise PkiError(f"certificate subject parts may not contain '/' or '=': {part!r}")
    return "/CN=" + common_name + "".join(f"/O={org}" for org in organizations)


def _config(extensions: Sequence[str]) -> str:
    # `req -x509` takes its extensions from the config; our own keeps openssl.cnf's defaults out.
    return "\n".join(
        [
            "[req]",
            "distinguished_name = dn",
            "prompt = no",
            "x509_extensions = ext",
            "[dn]",
            "CN = placeholder",
            "[ext]",
            *extensions,
            "",
        ]
    )


class CertificateAuthority:
    """A CA in `directory` (ca.crt, ca.key) that issues leaf certificates next to it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert = directory / "ca.crt"
        self.key = directory / "ca.key"

    @classmethod
    def create(cls, directory: Path, common_name: str) -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        authority = cls(directory)
        config = directory / "ca.cnf"
        config.write_text(
            _config(
                [
                    "basicConstraints = critical,CA:TRUE",
                    "keyUsage = critical,digitalSignature,keyCertSign,cRLSign",
                    "subjectKeyIdentifier = hash",
                ]
            )
        )
        _openssl(
            "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(authority.key), "-out", str(authority.cert), "-days", str(DAYS),
            "-subj", _subject(common_name, ()), "-config", str(config),
        )  # fmt: skip
        authority.key.chmod(0o600)
        return authority

    def issue(
        self,
        name: str,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
    ) -> KeyPair:
        """Write `<name>.crt` and `<name>.key` signed by this CA. `organizations` become the Kubernetes
        groups of a client certificate's user (`common_name`)."""
        if not (server or client):
            raise PkiError(f"certificate {name!r}: say whether it is for a server, a client or both")
        usages = [usage for usage, wanted in (("serverAuth", server), ("clientAuth", client)) if wanted]
        extensions = [
            "basicConstraints = critical,CA:FALSE",
            "keyUsage = critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage = {','.join(usages)}",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid",
        ]
        alt_names = [f"DNS:{dns}" for dns in dns_names] + [f"IP:{ip}" for ip in ip_addresses]
        if alt_names:
            extensions.append(f"subjectAltName = {','.join(alt_names)}")
        config = self.directory / f"{name}.cnf"
        config.write_text(_config(extensions))
        pair = KeyPair(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        _openssl(
            "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(pair.key), "-out", str(pair.cert), "-days", str(DAYS),
            "-subj", _subject(common_name, organizations), "-config", str(config),
            "-CA", str(self.cert), "-CAkey", str(self.key),
        )  # fmt: skip
        pair.key.chmod(0o600)
        return pair


def service_account_keys(directory: Path) -> KeyPair:
    """The key pair that signs service-account tokens (`cert` holds the public key)."""
    pair = KeyPair(directory / "sa.pub", directory / "sa.key")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pair.key))
    _openssl("pkey", "-in", str(pair.key), "-pubout", "-out", str(pair.cert))
    pair.key.chmod(0o600)
    return pair
