"""Production mode's deliveries (ADR 0027): connected to the address checked, over TLS checked
against the endpoint's host name, with that name in Host; and a host whose address is not
public refused. A real HTTPS server on this machine stands for the merchant's endpoint; its
name is pinned to 127.0.0.1 (the one thing a test must do instead of DNS: a public address
cannot be served here)."""

from __future__ import annotations

import datetime
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from payments.domain.webhook_endpoint import DeliveryPolicy
from payments.projections.followers.webhook_deliveries import NewDelivery, insert_deliveries
from payments.runtime.services import Services
from payments.runtime.webhook_sender import SenderConfig, WebhookSender
from tests.conftest import services_on_new_database
from tests.webhooks.conftest import AUDIT_KEY

HOST = "hooks.shop.test"


def _certificate(
    subject: str, issuer_key: Any, key: Any, issuer: str, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class TlsEndpoint:
    url: str
    ca_file: Path
    seen: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def tls_endpoint(directory: Path, certified_name: str) -> Iterator[TlsEndpoint]:
    """An HTTPS server on 127.0.0.1 with a certificate for `certified_name`, signed by a CA
    of its own (in `ca_file`); it keeps each request's Host header and TLS server name."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, ca_key, "test CA", ca=True)
    leaf = _certificate(certified_name, ca_key, key, "test CA", ca=False)
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "leaf.pem").write_bytes(_pem(leaf))
    (directory / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    context.sni_callback = lambda _socket, name, _context: names.append(name)  # type: ignore[assignment,func-returns-value]
    endpoint: TlsEndpoint

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            endpoint.seen.append({"host": self.headers["Host"], "sni": names[-1]})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    endpoint = TlsEndpoint(f"https://{HOST}:{server.server_address[1]}/in", directory / "ca.pem")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def services(admin_database_url: str) -> Iterator[Services]:
    with services_on_new_database(admin_database_url, PAYMENTS_AUDIT_KEY=AUDIT_KEY) as built:
        yield built


def one_delivery(services: Services, url: str) -> str:
    """An endpoint at `url` and a delivery due to it now; the delivery's id."""
    endpoint, _, _ = services.webhooks.register(
        uuid.uuid4().hex, url, ["payment_order.succeeded"], "", "tests"
    )
    services.webhooks.feed.run_until_idle()  # its subscription
    delivery_id = f"whd_{uuid.uuid4().hex}"
    with services.pool.connection() as conn:
        insert_deliveries(
            conn,
            [NewDelivery(delivery_id, endpoint.endpoint_id, f"evt_{delivery_id}",
                         "payment_order.succeeded", 10**9, b'{"id": "evt"}')],
        )  # fmt: skip
    return delivery_id


def production_sender(services: Services, pin: Any = None) -> WebhookSender:
    config = SenderConfig(DeliveryPolicy(max_attempts=1), timeout_s=5, public_only=True)
    return WebhookSender(services.webhooks.deliveries, services.webhooks.secret_of, config, pin=pin)


def sent(services: Services, sender: WebhookSender, delivery_id: str) -> Any:
    try:
        sender.send_once()
    finally:
        sender.close()
    return services.webhooks.deliveries.get(delivery_id)


def test_a_delivery_goes_to_the_address_checked_with_tls_for_the_host_s_name(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tls_endpoint(tmp_path, HOST) as endpoint:
        monkeypatch.setenv("SSL_CERT_FILE", str(endpoint.ca_file))  # trust the test CA
        delivery_id = one_delivery(services, endpoint.url)
        pinned: list[tuple[str, int]] = []

        def pin(host: str, port: int) -> str:
            pinned.append((host, port))
            return "127.0.0.1"

        delivery = sent(services, production_sender(services, pin), delivery_id)
        port = int(endpoint.url.split(":")[2].split("/")[0])
        assert (delivery.status, delivery.last_status_code) == ("delivered", 204)
        assert pinned == [(HOST, port)]
        assert endpoint.seen == [{"host": f"{HOST}:{port}", "sni": HOST}]


def test_a_certificate_for_another_name_is_a_failed_attempt(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tls_endpoint(tmp_path, "elsewhere.test") as endpoint:
        monkeypatch.setenv("SSL_CERT_FILE", str(endpoint.ca_file))
        delivery_id = one_delivery(services, endpoint.url)
        sender = production_sender(services, lambda host, port: "127.0.0.1")
        delivery = sent(services, sender, delivery_id)
        assert delivery.status == "failed"
        assert delivery.last_error == (
            "SSLError: hostname 'hooks.shop.test' doesn't match 'elsewhere.test'"
        )
        assert endpoint.seen == []


def test_a_host_that_is_not_public_is_refused_before_connecting(services: Services) -> None:
    delivery_id = one_delivery(services, "https://localhost:9/in")
    delivery = sent(services, production_sender(services), delivery_id)
    assert delivery.status == "failed"
    assert "which is not a public address" in (delivery.last_error or "")
    assert delivery.last_status_code is None
