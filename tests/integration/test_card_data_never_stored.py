"""A card number or CVC sent by mistake never reaches storage or logs (PCI scope stays at PSP)."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import TestClient
from psycopg import sql

from payments.runtime.backup import user_tables
from payments.runtime.logs import JsonLinesFormatter
from payments.runtime.services import Services
from tests.integration.helpers import checkout_body, new_key

Client = TestClient  # type: ignore[type-arg]
TEST_PANS = ["4242424242424242", "4000000000000002", "5555555555554444", "378282246310005"]


def dump_database_text(services: Services) -> str:
    """Every row of every table in our database, as text (events decoded from bytea too)."""
    chunks: list[str] = []
    with services.pool.connection() as conn:
        for table in user_tables(conn):
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(*table))
            chunks.extend(row[0] for row in conn.execute(query))
        chunks.extend(
            bytes(row[0]).decode("utf-8", "replace")
            for row in conn.execute("SELECT state FROM payments_events")
        )
    return "\n".join(chunks)


def test_card_numbers_sent_anywhere_are_neither_stored_nor_logged(
    client: Client,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for pan in TEST_PANS:
        attempts = [
            {"token": "tok_valid", "number": pan},
            {"token": pan},
            {"token": "tok_valid", "card": {"pan": pan, "cvc": "123"}},
            {"token": "tok_valid", "note": f"{pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]}"},
        ]
        for card in attempts:
            body = checkout_body(1)
            body["credit_card_info"] = card
            response = client.post("/payments", json=body, headers=new_key())
            assert response.status_code == 422
            assert pan not in response.text
        body = checkout_body(1)
        body["buyer_info"] = {"memo": pan}
        assert client.post("/payments", json=body, headers=new_key()).status_code == 422
        # Malformed JSON around a PAN is refused before anything could echo it.
        broken = f'{{"credit_card_info": {{"number": "{pan}"'.encode()
        response = client.post(
            "/payments", content=broken, headers={**new_key(), "content-type": "application/json"}
        )
        assert response.status_code == 400
        assert pan not in response.text
    # A legitimate checkout is stored (so the dump is not trivially empty).
    assert client.post("/payments", json=checkout_body(1), headers=new_key()).status_code == 201

    dumped = dump_database_text(services)
    assert "tok_visaexample" in dumped
    formatter = JsonLinesFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    out, err = capfd.readouterr()
    for pan in TEST_PANS:
        assert pan not in dumped
        assert pan not in logged
        assert pan not in out + err
