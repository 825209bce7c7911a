from gitpulse_app.core.crypto import decrypt_token, encrypt_token, token_hint


def test_tokens_round_trip_and_are_not_stored_in_clear():
    stored = encrypt_token("ghp_secret123")
    assert "ghp_secret123" not in stored
    assert decrypt_token(stored) == "ghp_secret123"


def test_a_changed_secret_leaves_tokens_unreadable_not_crashing():
    stored = encrypt_token("ghp_secret123", secret_key="old-key")
    assert decrypt_token(stored, secret_key="new-key") is None
    assert decrypt_token("not-a-fernet-token") is None
    assert decrypt_token(None) is None


def test_token_hint_shows_only_the_last_four_characters():
    assert token_hint("ghp_abcdefgh1234") == "…1234"
