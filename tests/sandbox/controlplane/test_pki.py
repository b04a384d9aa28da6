"""The control plane's certificates: made with openssl, verified by Python's ssl as the clients do."""

from __future__ import annotations

import pathlib
import socket
import ssl
import subprocess
import threading

import pytest

from sandbox.controlplane.pki import CertificateAuthority, KeyPair, PkiError, service_account_keys


def _handshake(pair: KeyPair, trust: pathlib.Path, server_hostname: str) -> None:
    """Serve one TLS handshake on loopback with `pair`, connect trusting `trust`."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pair.cert, pair.key)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def accept() -> None:
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        client_context = ssl.create_default_context(cafile=str(trust))
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=5) as raw,
                client_context.wrap_socket(raw, server_hostname=server_hostname) as tls,
            ):
                tls.sendall(b"x")
        finally:
            thread.join(timeout=5)


def test_a_serving_certificate_verifies_against_its_ca_for_its_names_only(tmp_path: pathlib.Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "a", "test-ca")
    pair = ca.issue(
        "server", "kube-apiserver", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True
    )
    _handshake(pair, ca.cert, "127.0.0.1")
    _handshake(pair, ca.cert, "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(pair, ca.cert, "kubernetes.example")
    other = CertificateAuthority.create(tmp_path / "b", "other-ca")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(pair, other.cert, "127.0.0.1")


def test_a_client_certificate_names_the_user_and_its_groups(tmp_path: pathlib.Path) -> None:
    ca = CertificateAuthority.create(tmp_path, "test-ca")
    pair = ca.issue("node", "system:node:n1", organizations=["system:nodes", "extra"], client=True)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(pair.cert), "-noout", "-subject", "-ext", "extendedKeyUsage"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "CN = system:node:n1, O = system:nodes, O = extra" in text
    assert "TLS Web Client Authentication" in text and "Server" not in text
    assert pair.key.stat().st_mode & 0o077 == 0  # private keys are private


def test_bad_requests_are_refused_with_a_reason(tmp_path: pathlib.Path) -> None:
    ca = CertificateAuthority.create(tmp_path, "test-ca")
    with pytest.raises(PkiError, match="server, a client or both"):
        ca.issue("x", "someone")
    with pytest.raises(PkiError, match="may not contain"):
        ca.issue("x", "evil/CN=admin", client=True)


def test_service_account_keys_are_an_rsa_pair(tmp_path: pathlib.Path) -> None:
    pair = service_account_keys(tmp_path)
    assert pair.cert.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    derived = subprocess.run(
        ["openssl", "pkey", "-in", str(pair.key), "-pubout"], capture_output=True, text=True, check=True
    ).stdout
    assert derived == pair.cert.read_text()
