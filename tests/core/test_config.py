import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitpulse_app.core.config import ConfigurationError, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_contract(configure):
    settings = configure(GITPULSE_SECRET_KEY=None)
    assert settings.database_url == "sqlite:///./gitpulse.db"
    assert settings.base_url == "http://localhost:3000"
    assert settings.api_url == "http://localhost:8000"
    assert settings.github_api_url == "https://api.github.com"
    assert settings.github_url == "https://github.com"
    assert settings.llm_model == "gpt-4.1-mini"
    assert settings.embedding_model == "voyage-3-large"
    assert settings.mail_from == "GitPulse <reports@localhost>"
    assert settings.redis_url is None and settings.smtp_url is None


def test_demo_defaults_on_for_localhost_without_oauth(configure):
    assert configure().demo_enabled is True


def test_demo_defaults_off_when_oauth_is_configured(configure):
    assert configure(GITHUB_CLIENT_ID="id", GITHUB_CLIENT_SECRET="s").demo_enabled is False


def test_demo_defaults_off_on_a_public_host(configure):
    assert configure(GITPULSE_BASE_URL="https://pulse.example.com").demo_enabled is False


def test_explicit_demo_flag_wins(configure):
    assert configure(GITPULSE_DEMO="0").demo_enabled is False
    assert configure(GITPULSE_DEMO="1", GITPULSE_BASE_URL="https://x.example").demo_enabled is True


def test_secret_is_generated_into_gitpulse_secret_on_localhost(configure, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = configure(GITPULSE_SECRET_KEY=None)
    secret = settings.secret_key
    stored = (tmp_path / ".gitpulse-secret").read_text().strip()
    assert secret == stored and len(secret) >= 32
    assert (tmp_path / ".gitpulse-secret").stat().st_mode & 0o077 == 0
    assert configure(GITPULSE_SECRET_KEY=None).secret_key == secret


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
def test_every_local_host_counts_as_development(configure, host, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert configure(GITPULSE_SECRET_KEY=None, GITPULSE_BASE_URL=f"http://{host}:3000").secret_key


def test_production_without_secret_key_is_refused(configure):
    settings = configure(GITPULSE_SECRET_KEY=None, GITPULSE_BASE_URL="http://10.0.0.5:3000")
    with pytest.raises(ConfigurationError, match="GITPULSE_SECRET_KEY must be set in production"):
        settings.secret_key


def test_backend_exits_1_on_a_public_host_without_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITPULSE_", "GITHUB_"))}
    env |= {"GITPULSE_BASE_URL": "http://10.0.0.5:3000", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "import gitpulse_app.api"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "GITPULSE_SECRET_KEY must be set in production" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".gitpulse-secret").exists()


def test_dotenv_file_is_read(configure, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GITPULSE_ADMINS= Alice , bob,\nSMTP_URL=smtp://localhost:2525\n")
    settings = configure()
    assert settings.admins == frozenset({"alice", "bob"})
    assert settings.email_enabled is True


def test_blank_values_mean_unset(configure):
    settings = configure(OPENAI_API_KEY="", GITHUB_CLIENT_ID=" ")
    assert settings.openai_api_key is None and settings.openai_enabled is False
    assert settings.github_client_id is None


def test_trailing_slashes_are_stripped_from_base_urls(configure):
    settings = configure(GITHUB_API_URL="http://127.0.0.1:9999/", GITPULSE_BASE_URL="http://localhost:3000/")
    assert settings.github_api_url == "http://127.0.0.1:9999"
    assert settings.base_url == "http://localhost:3000"


def test_every_contract_variable_is_a_setting():
    names = {f.validation_alias for f in Settings.model_fields.values()}
    contract = {
        "DATABASE_URL", "REDIS_URL", "GITPULSE_BASE_URL", "GITPULSE_API_URL", "GITPULSE_SECRET_KEY",
        "GITPULSE_DEMO", "GITHUB_API_URL", "GITHUB_URL", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET",
        "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_SLUG", "GITHUB_WEBHOOK_SECRET",
        "GITHUB_WEBHOOK_SECRET_PREVIOUS", "GITHUB_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL",
        "GITPULSE_LLM_MODEL", "GITPULSE_LLM_FALLBACK_MODEL", "VOYAGE_API_KEY", "VOYAGE_BASE_URL",
        "GITPULSE_EMBEDDING_MODEL", "GITPULSE_ADMINS", "SMTP_URL", "GITPULSE_MAIL_FROM",
    }
    assert contract <= names
