"""The receiver through the real HTTP endpoint."""

import codecs
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select
from starlette.testclient import TestClient

from gitpulse_app.acquisition.webhooks.receiver import MAX_BODY_BYTES, trust_demo_seed
from gitpulse_app.acquisition.webhooks.signature import demo_seed_secret, sign
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import WebhookEvent
from gitpulse_app.experience.http.app import create_api
from tests.acquisition.webhooks.conftest import (
    SECRET,
    WEBHOOK_URL,
    post_webhook,
    signed_headers,
)
from tests.support.payloads import load_webhook

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def envelopes(session) -> list[WebhookEvent]:
    session.expire_all()
    return list(session.exec(select(WebhookEvent)).all())


def test_valid_signature_is_acknowledged_and_stores_one_pending_envelope(client, session):
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = {"id": 957387}
    before = dt.datetime.now(dt.UTC)
    response = post_webhook(client, "pull_request", payload, delivery="d-1")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "deliveryId": "d-1"}
    [envelope] = envelopes(session)
    assert envelope.delivery_id == "d-1"
    assert envelope.event == "pull_request"
    assert envelope.action == "opened"
    assert envelope.installation_gh_id == 957387
    assert envelope.payload == payload
    assert envelope.status == "pending"
    assert envelope.attempts == 0
    assert before <= envelope.received_at <= dt.datetime.now(dt.UTC)
    assert envelope.next_attempt_at == envelope.received_at


def test_only_the_insert_runs_before_the_ack(client, session):
    # Without an in-process worker nothing processes it: the ack did not wait for processing.
    post_webhook(client, "pull_request", load_webhook("pull_request", "opened"))
    [envelope] = envelopes(session)
    assert envelope.status == "pending" and envelope.started_at is None


def stored_payload_text(session) -> str:
    return session.connection().execute(sa.text("SELECT payload FROM webhook_events")).scalar_one()


def test_the_payload_is_stored_as_the_signed_text_not_re_serialized(client, session):
    text = '{ "zen":  "Design for failure.",\n  "hook_id": 1, "été": "☃", "z": [1.5e3, -0] }'
    assert post_webhook(client, "ping", body=text.encode("utf-8")).status_code == 200
    assert stored_payload_text(session) == text
    [envelope] = envelopes(session)
    assert envelope.payload == json.loads(text)


@pytest.mark.parametrize("encode", [
    lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    lambda text: text.encode("utf-16"),
], ids=["utf-8 with bom", "utf-16"])
def test_a_body_json_accepts_but_not_as_utf8_text_is_stored_re_serialized(client, session, encode):
    payload = {"zen": "Keep it logically awesome.", "hook_id": 7, "action": "pinged"}
    body = encode(json.dumps(payload, indent=2))
    assert post_webhook(client, "ping", body=body, delivery="odd-encoding").status_code == 200
    assert json.loads(stored_payload_text(session)) == payload
    [envelope] = envelopes(session)
    assert (envelope.payload, envelope.action) == (payload, "pinged")


def test_githubs_documented_vector_passes_the_signature_check(client, configure):
    configure(GITHUB_WEBHOOK_SECRET=GITHUB_SECRET)
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "vector",
               "X-Hub-Signature-256": GITHUB_SIGNATURE}
    response = client.post(WEBHOOK_URL, content=b"Hello, World!", headers=headers)
    # Signature accepted; the body is then refused for not being a JSON object.
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid JSON payload"}
    headers["X-Hub-Signature-256"] = GITHUB_SIGNATURE[:-1] + "0"
    response = client.post(WEBHOOK_URL, content=b"Hello, World!", headers=headers)
    assert response.status_code == 401


def test_previous_secret_is_accepted_during_rotation(client, configure, session):
    configure(GITHUB_WEBHOOK_SECRET="new-secret", GITHUB_WEBHOOK_SECRET_PREVIOUS=SECRET)
    assert post_webhook(client, "ping", {"zen": "old"}, secret=SECRET).status_code == 200
    assert post_webhook(client, "ping", {"zen": "new"}, secret="new-secret").status_code == 200
    assert post_webhook(client, "ping", {"zen": "?"}, secret="other").status_code == 401
    assert len(envelopes(session)) == 2


@pytest.mark.parametrize(
    "signature",
    [
        "sha256=" + "0" * 64,
        "sha256=" + "ab" * 31,  # short
        "sha256=" + "g" * 64,  # not hex
        "sha1=" + "0" * 40,
        "0" * 64,
        "",
        "sha256=",
    ],
)
def test_wrong_malformed_or_short_signature_is_401_before_any_json_parsing(client, session,
                                                                            signature):
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "bad-sig",
               "X-Hub-Signature-256": signature}
    # The body is not JSON: a 400 would mean it was parsed before the signature was checked.
    response = client.post(WEBHOOK_URL, content=b"{not json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid signature"}
    assert envelopes(session) == []


def test_body_signed_with_another_secret_is_401(client):
    assert post_webhook(client, "ping", {"zen": "x"}, secret="not-the-secret").status_code == 401


@pytest.mark.parametrize(
    "missing", ["X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event"]
)
def test_missing_headers_are_400(client, session, missing):
    body = b'{"zen": "x"}'
    headers = signed_headers("ping", body)
    del headers[missing]
    response = client.post(WEBHOOK_URL, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "Missing required webhook headers"}
    assert envelopes(session) == []


def test_missing_headers_are_checked_before_the_secret(client, configure):
    configure(GITHUB_WEBHOOK_SECRET=None)
    response = client.post(WEBHOOK_URL, content=b"{}", headers={"X-GitHub-Event": "ping"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "delivery",
    ["", "a" * 101, "has space", "dots.not.allowed", "slash/x", "under_score",
     "caf\u00e9".encode("latin-1"), "72d3162e-cc78-11e3-81ab-4c9367dc0958\n"],
)
def test_invalid_delivery_id_is_400(client, session, delivery):
    body = b'{"zen": "x"}'
    headers = signed_headers("ping", body)
    headers["X-GitHub-Delivery"] = delivery
    response = client.post(WEBHOOK_URL, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid delivery id"}
    assert envelopes(session) == []


@pytest.mark.parametrize("delivery", ["a", "A" * 100, "72d3162e-cc78-11e3-81ab-4c9367dc0958"])
def test_delivery_ids_of_1_to_100_safe_characters_are_accepted(client, delivery):
    assert post_webhook(client, "ping", {"zen": "x"}, delivery=delivery).status_code == 200


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"[]", b'"text"', b"42", b"null", b'{"a": NaN}', b"\xff\xfe{",
             b'{"a": 1}{"b": 2}', b"[" * 100_000]
)
def test_invalid_json_or_not_an_object_is_400(client, session, body):
    response = post_webhook(client, "ping", body=body)
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid JSON payload"}
    assert envelopes(session) == []


def test_26_mib_body_is_413(client, session):
    body = b'{"pad": "' + b"x" * (26 * 1024 * 1024) + b'"}'
    response = post_webhook(client, "ping", body=body)
    assert response.status_code == 413
    assert response.json() == {"error": "Payload too large"}
    assert envelopes(session) == []


def test_oversized_body_without_content_length_is_counted_while_reading(client, session):
    chunk = b"x" * (1024 * 1024)

    def stream():
        yield b'{"pad": "'
        for _ in range(26):
            yield chunk
        yield b'"}'

    headers = signed_headers("ping", b"{}")
    response = client.post(WEBHOOK_URL, content=stream(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert envelopes(session) == []


def test_body_of_exactly_25_mib_is_not_too_large(client):
    body = b'{"pad": "' + b"x" * (MAX_BODY_BYTES - 11) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    assert post_webhook(client, "ping", body=body).status_code == 200


def test_no_webhook_secret_is_500_and_stores_nothing(client, configure, session):
    configure(GITHUB_WEBHOOK_SECRET=None)
    response = post_webhook(client, "ping", {"zen": "x"})
    assert response.status_code == 500
    assert response.json() == {"error": "Webhook secret not configured"}
    assert envelopes(session) == []


def test_demo_seed_key_is_accepted_only_through_the_in_process_seed_wrapper(engine, configure,
                                                                               session):
    configure(GITHUB_WEBHOOK_SECRET=None)
    demo_key = demo_seed_secret("test-secret-key")
    seed_client = TestClient(trust_demo_seed(create_api(with_workers=False)))
    network_client = TestClient(create_api(with_workers=False))
    response = post_webhook(seed_client, "ping", {"zen": "seed"}, secret=demo_key)
    assert response.status_code == 200
    # The same request over the network: no secret configured, so no webhook is accepted.
    assert post_webhook(network_client, "ping", {"zen": "x"}, secret=demo_key).status_code == 500
    configure(GITHUB_WEBHOOK_SECRET=SECRET)
    assert post_webhook(network_client, "ping", {"zen": "y"}, secret=demo_key).status_code == 401
    assert post_webhook(seed_client, "ping", {"zen": "z"}, secret=demo_key).status_code == 200
    assert len(envelopes(session)) == 2


def test_same_delivery_twice_is_200_both_times_with_one_envelope(client, session):
    payload = load_webhook("issues", "opened")
    first = post_webhook(client, "issues", payload, delivery="dup-1")
    second = post_webhook(client, "issues", payload, delivery="dup-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"ok": True, "deliveryId": "dup-1"}
    assert len(envelopes(session)) == 1


def test_replay_never_overwrites_the_stored_envelope(client, session):
    post_webhook(client, "issues", load_webhook("issues", "opened"), delivery="keep-1")
    post_webhook(client, "ping", {"zen": "different"}, delivery="keep-1")
    [envelope] = envelopes(session)
    assert envelope.event == "issues" and envelope.action == "opened"


def test_odd_but_valid_payload_values_are_stored_safely(client, session):
    payload = {"action": "bad\u0000\ud800", "installation": {"id": 2**70}, "zen": "\u0000"}
    body = json.dumps(payload).encode()
    assert post_webhook(client, "ping", body=body, delivery="odd").status_code == 200
    [envelope] = envelopes(session)
    assert envelope.installation_gh_id is None
    assert envelope.action == "bad?"
    assert envelope.payload["installation"]["id"] == 2**70


def test_database_unavailable_is_503(configure, webhook_secret, tmp_path):
    missing = create_db_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'gitpulse.db'}")
    set_engine(missing)
    try:
        response = post_webhook(TestClient(create_api(with_workers=False)), "ping", {"zen": "x"})
    finally:
        set_engine(None)
        missing.dispose()
    assert response.status_code == 503
    assert response.json() == {"error": "Service temporarily unavailable"}


def test_a_database_without_the_table_is_not_a_500(client, engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE webhook_events")
    response = post_webhook(client, "ping", {"zen": "x"})
    assert response.status_code == 503


# Property: whatever arrives, the endpoint answers a 4xx or 200 — never 500. -------------------
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "action": JSON_VALUES,
        "installation": st.one_of(JSON_VALUES, st.fixed_dictionaries({"id": JSON_VALUES})),
        "installation_id": st.integers(),
        "repository": JSON_VALUES,
    },
)
BODIES = st.one_of(
    st.binary(max_size=300),
    PAYLOADS.map(lambda p: json.dumps(p).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    event=st.one_of(st.none(), HEADER_TEXT, st.sampled_from(["push", "pull_request", "ping"])),
    delivery=st.one_of(st.none(), HEADER_TEXT, st.uuids().map(str)),
    signature=st.one_of(st.none(), HEADER_TEXT, st.just("sign")),
    body=BODIES,
)
def test_the_endpoint_never_answers_500_for_bad_input(client, event, delivery, signature, body):
    headers = {}
    if event is not None:
        headers["X-GitHub-Event"] = event
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    if signature is not None:
        headers["X-Hub-Signature-256"] = sign(body, SECRET) if signature == "sign" else signature
    response = client.post(WEBHOOK_URL, content=body, headers=headers)
    assert response.status_code in {200, 400, 401, 413}, response.text
    assert isinstance(response.json(), dict)
