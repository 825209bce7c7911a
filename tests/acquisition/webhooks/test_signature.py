import hashlib
import hmac

import pytest

from gitpulse_app.acquisition.webhooks.signature import (
    candidate_secrets,
    demo_seed_secret,
    sign,
    signature_matches,
    verify_signature,
)

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_vector_verifies():
    assert signature_matches(GITHUB_BODY, GITHUB_SIGNATURE, GITHUB_SECRET)
    assert sign(GITHUB_BODY, GITHUB_SECRET) == GITHUB_SIGNATURE


def test_upper_case_hex_is_the_same_digest():
    upper = "sha256=" + GITHUB_SIGNATURE.removeprefix("sha256=").upper()
    assert signature_matches(GITHUB_BODY, upper, GITHUB_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        GITHUB_SIGNATURE[:-2],  # short
        GITHUB_SIGNATURE + "00",  # long
        GITHUB_SIGNATURE.replace("sha256=", "sha1="),
        GITHUB_SIGNATURE.replace("sha256=", "SHA256="),
        GITHUB_SIGNATURE.removeprefix("sha256="),
        "sha256=" + "zz" * 32,  # non-hex, right length
        "sha256=" + "75 71 07" + GITHUB_SIGNATURE[13:],  # whitespace is not hex
        GITHUB_SIGNATURE[:-1] + "f",  # one digit off
        "sha256=\u00e9" * 3,
    ],
)
def test_malformed_or_wrong_signatures_are_mismatches(header):
    assert not signature_matches(GITHUB_BODY, header, GITHUB_SECRET)


def test_wrong_secret_or_changed_body_is_a_mismatch():
    assert not signature_matches(GITHUB_BODY, GITHUB_SIGNATURE, "another secret")
    assert not signature_matches(GITHUB_BODY + b" ", GITHUB_SIGNATURE, GITHUB_SECRET)


def test_current_then_previous_secret_are_tried():
    secrets = candidate_secrets("new-secret", "old-secret")
    assert secrets == ["new-secret", "old-secret"]
    assert verify_signature(b"{}", sign(b"{}", "old-secret"), secrets)
    assert verify_signature(b"{}", sign(b"{}", "new-secret"), secrets)
    assert not verify_signature(b"{}", sign(b"{}", "older-secret"), secrets)


def test_demo_seed_key_is_derived_from_the_instance_secret_and_only_allowed_on_request():
    expected = hashlib.sha256(b"gitpulse-demo-seed:instance-key").hexdigest()
    assert demo_seed_secret("instance-key") == expected
    body = b'{"zen": "demo"}'
    header = "sha256=" + hmac.new(expected.encode(), body, hashlib.sha256).hexdigest()
    assert not verify_signature(body, header, candidate_secrets(None, None,
                                                                demo_secret_key="instance-key"))
    allowed = candidate_secrets(None, None, demo_secret_key="instance-key", allow_demo_key=True)
    assert verify_signature(body, header, allowed)
