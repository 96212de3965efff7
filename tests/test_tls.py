"""A server whose certificate the app cannot verify: a clear message, no retry offered, no key sent."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.streaming import AbortHandle, stream_chat


@pytest.fixture
def untrusted_tls_server(tmp_path):
    """A TLS listener on 127.0.0.1 with a self-signed certificate no trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(1)
                    received.append(tls.recv(65536))
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate, as it should
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/v1", received
    stop.set()
    thread.join(2)
    listener.close()


def test_an_unverifiable_certificate_is_reported_as_such(untrusted_tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    base_url, received = untrusted_tls_server
    secret = "sk-tls-test-abcdef0123456789"
    outcome = stream_chat(ChatRequest("gpt-4o-mini", (("user", "hi"),)),
                          ConnectionConfig(api_key=secret, base_url=base_url, read_timeout=5),
                          lambda text: None, AbortHandle())
    assert outcome.status == "error"
    assert outcome.error.kind == "tls" and not outcome.error.retryable
    assert "certificate could not be verified" in outcome.error.message
    assert "Server said" not in outcome.error.message and secret not in outcome.error.detail
    assert not any(secret.encode() in chunk for chunk in received), "the key went to an unverified server"
