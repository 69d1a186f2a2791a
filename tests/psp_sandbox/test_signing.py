from __future__ import annotations

import pytest

from payments.psp.signing import (
    MalformedSignatureError,
    SignatureMismatchError,
    StaleSignatureError,
    sign_payload,
    verify_signature,
)

SECRET = "whsec_unit"
BODY = b'{"id":"evt_1","type":"charge.succeeded"}'


def test_a_fresh_signature_of_the_body_verifies() -> None:
    header = sign_payload(SECRET, BODY, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    verify_signature(SECRET, header, BODY, now=1_700_000_100)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_a_timestamp_outside_the_tolerance_is_stale_in_either_direction(skew: int) -> None:
    header = sign_payload(SECRET, BODY, 1_700_000_000)
    with pytest.raises(StaleSignatureError):
        verify_signature(SECRET, header, BODY, now=1_700_000_000 + skew)


def test_a_changed_body_or_another_secret_is_a_mismatch() -> None:
    header = sign_payload(SECRET, BODY, 1_700_000_000)
    with pytest.raises(SignatureMismatchError):
        verify_signature(SECRET, header, BODY + b" ", now=1_700_000_000)
    with pytest.raises(SignatureMismatchError):
        verify_signature("whsec_other", header, BODY, now=1_700_000_000)


def test_a_forged_timestamp_breaks_the_signature() -> None:
    signature = sign_payload(SECRET, BODY, 1_700_000_000).split(",")[1]
    with pytest.raises(SignatureMismatchError):
        verify_signature(SECRET, f"t=1700000050,{signature}", BODY, now=1_700_000_050)


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=ab", "v1=abcd", "t=1700000000", "t=abc,v1=ab", "t=1,t=2,v1=ab", "garbage"],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(MalformedSignatureError):
        verify_signature(SECRET, header, BODY, now=1_700_000_000)


def test_any_of_several_v1_entries_may_match_during_key_rotation() -> None:
    new = sign_payload(SECRET, BODY, 1_700_000_000)
    old = sign_payload("whsec_old", BODY, 1_700_000_000).split(",")[1]
    verify_signature(SECRET, f"{new},{old}", BODY, now=1_700_000_000)
    verify_signature("whsec_old", f"{new},{old}", BODY, now=1_700_000_000)
