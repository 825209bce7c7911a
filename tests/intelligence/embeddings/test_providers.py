import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gitpulse_app.intelligence.embeddings.providers import (
    LOCAL_MODEL,
    OPENAI_MODEL,
    FailureKind,
    LocalProvider,
    ProviderError,
    chain_models,
    classify_http_error,
    local_vector,
    next_model,
    primary_model,
    provider_for,
)
from tests.intelligence.embeddings.conftest import (
    embedding_calls,
    openai_error,
    voyage_answer,
    voyage_error,
)

ROOT = Path(__file__).resolve().parents[3]


def test_local_vectors_are_1024_float32_of_unit_length_and_zero_for_text_without_words():
    vector = local_vector("Fix the auth bug in login")
    assert vector.shape == (1024,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-6
    assert not local_vector("  … — !!").any()
    assert LocalProvider().embed([], input_type="document").shape == (0, 1024)


def test_local_vectors_follow_the_hashing_rule_of_the_spec():
    def feature(token):
        digest = hashlib.sha256(token.encode()).digest()
        return int.from_bytes(digest[:4], "big") % 1024, 1.0 if digest[4] % 2 == 0 else -1.0

    expected = np.zeros(1024)
    for token, weight in [("auth", 1.0), ("bug", 1.0), ("auth bug", 0.5)]:
        index, sign = feature(token)
        expected[index] += weight * sign
    expected /= np.linalg.norm(expected)

    assert np.allclose(local_vector("AUTH, bug!"), expected.astype(np.float32))


def test_local_vectors_are_identical_across_runs_and_processes(tmp_path):
    texts = ["Fix the auth bug", "Übersetzung ändern – 東京 🚀", "", "a b a b a b"]
    here = b"".join(local_vector(text).tobytes() for text in texts)
    script = (
        "import sys\n"
        "from gitpulse_app.intelligence.embeddings.providers import local_vector\n"
        f"texts = {texts!r}\n"
        "sys.stdout.buffer.write(b''.join(local_vector(t).tobytes() for t in texts))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, check=True,
                       env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (1, 2)
    ]
    assert runs == [here, here]
    assert here == b"".join(local_vector(text).tobytes() for text in texts)


def test_the_chain_is_voyage_then_openai_then_local(configure):
    assert chain_models() == [LOCAL_MODEL]
    configure(OPENAI_API_KEY="sk-x")
    assert chain_models() == [OPENAI_MODEL, LOCAL_MODEL]
    configure(VOYAGE_API_KEY="pa-x", GITPULSE_EMBEDDING_MODEL="voyage-3.5")
    assert chain_models() == ["voyage-3.5", OPENAI_MODEL, LOCAL_MODEL]
    assert primary_model() == "voyage-3.5"
    assert next_model("voyage-3.5") == OPENAI_MODEL
    assert next_model(LOCAL_MODEL) is None
    assert next_model("voyage-2") == "voyage-3.5"
    assert provider_for("voyage-2") is None
    assert provider_for("voyage-3.5").name == "voyage"


@pytest.mark.parametrize("status, message, kind", [
    (404, "Not found", FailureKind.UNAVAILABLE),
    (400, "Request to model 'voyage-3-large' failed. The max allowed tokens per submitted batch is "
          "120000.", FailureKind.TOO_LARGE),
    (400, "The batch size limit is 1000.", FailureKind.TOO_LARGE),
    (400, "Model voyage-9 is not supported.", FailureKind.UNAVAILABLE),
    (400, "The model `text-embedding-9` does not exist", FailureKind.UNAVAILABLE),
    (400, "input_type must be one of query, document", FailureKind.TRANSIENT),
    (429, "Rate limit exceeded for model voyage-3-large", FailureKind.TRANSIENT),
    (500, "Internal error", FailureKind.TRANSIENT),
    (None, "Connection refused", FailureKind.TRANSIENT),
])
def test_provider_errors_are_classified_by_status_and_message(status, message, kind):
    assert classify_http_error(status, message, "voyage-3-large") is kind


def test_voyage_queries_use_the_query_input_type_through_voyage_base_url(fake_voyage):
    vectors = provider_for("voyage-3-large").embed(["auth bug"], input_type="query")

    assert vectors.shape == (1, 1024)
    [call] = embedding_calls(fake_voyage)
    assert (call["input"], call["model"], call["input_type"]) == (["auth bug"], "voyage-3-large", "query")


def test_the_voyage_sdk_does_not_retry_by_itself(fake_voyage):
    fake_voyage.add("POST", "/v1/embeddings", [voyage_error(429, "Rate limit"), voyage_answer()])

    with pytest.raises(ProviderError) as raised:
        provider_for("voyage-3-large").embed(["x"], input_type="document")

    assert raised.value.kind is FailureKind.TRANSIENT
    assert len(embedding_calls(fake_voyage)) == 1


def test_the_openai_sdk_does_not_retry_by_itself(fake_openai):
    fake_openai.add("POST", "/v1/embeddings", openai_error(500, "The server had an error"))

    with pytest.raises(ProviderError):
        provider_for(OPENAI_MODEL).embed(["x"], input_type="document")

    assert len(embedding_calls(fake_openai)) == 1
    request = fake_openai.requests_to("/v1/embeddings")[0]
    assert request.headers["Authorization"] == "Bearer sk-test-openai"


def test_a_malformed_provider_answer_is_a_provider_error(fake_voyage):
    from tests.support.fake_http import FakeResponse

    fake_voyage.add("POST", "/v1/embeddings", FakeResponse(200, body="<html>oops</html>",
                                                           headers={"Content-Type": "text/html"}))

    with pytest.raises(ProviderError):
        provider_for("voyage-3-large").embed(["x"], input_type="document")
