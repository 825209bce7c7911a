"""One settings object for every environment variable (README "Configuration").

Values come from the environment, then from a `.env` file in the working directory. Derived flags
(`demo_enabled`, `voyage_enabled`, …) are computed from what is configured, so no module re-reads the
environment on its own.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SECRET_FILE = Path(".gitpulse-secret")
VERSION = "0.1.0"


class ConfigurationError(RuntimeError):
    """The configuration cannot run this instance; the message says what to set."""


class Settings(BaseSettings):
    """Every setting GitPulse reads."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field("sqlite:///./gitpulse.db", validation_alias="DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    base_url: str = Field("http://localhost:3000", validation_alias="GITPULSE_BASE_URL")
    api_url: str = Field("http://localhost:8000", validation_alias="GITPULSE_API_URL")
    secret_key_value: str | None = Field(None, validation_alias="GITPULSE_SECRET_KEY")
    demo_value: str | None = Field(None, validation_alias="GITPULSE_DEMO")
    github_api_url: str = Field("https://api.github.com", validation_alias="GITHUB_API_URL")
    github_url: str = Field("https://github.com", validation_alias="GITHUB_URL")
    github_client_id: str | None = Field(None, validation_alias="GITHUB_CLIENT_ID")
    github_client_secret: str | None = Field(None, validation_alias="GITHUB_CLIENT_SECRET")
    github_app_id: str | None = Field(None, validation_alias="GITHUB_APP_ID")
    github_app_private_key: str | None = Field(None, validation_alias="GITHUB_APP_PRIVATE_KEY")
    github_app_slug: str | None = Field(None, validation_alias="GITHUB_APP_SLUG")
    github_webhook_secret: str | None = Field(None, validation_alias="GITHUB_WEBHOOK_SECRET")
    github_webhook_secret_previous: str | None = Field(
        None, validation_alias="GITHUB_WEBHOOK_SECRET_PREVIOUS"
    )
    github_token: str | None = Field(None, validation_alias="GITHUB_TOKEN")
    openai_api_key: str | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    llm_model: str = Field("gpt-4.1-mini", validation_alias="GITPULSE_LLM_MODEL")
    llm_fallback_model: str | None = Field(None, validation_alias="GITPULSE_LLM_FALLBACK_MODEL")
    voyage_api_key: str | None = Field(None, validation_alias="VOYAGE_API_KEY")
    voyage_base_url: str | None = Field(None, validation_alias="VOYAGE_BASE_URL")
    embedding_model: str = Field("voyage-3-large", validation_alias="GITPULSE_EMBEDDING_MODEL")
    admins_value: str | None = Field(None, validation_alias="GITPULSE_ADMINS")
    smtp_url: str | None = Field(None, validation_alias="SMTP_URL")
    mail_from: str = Field("GitPulse <reports@localhost>", validation_alias="GITPULSE_MAIL_FROM")
    # Channel URLs may be http:// and reach private addresses (docs/CHANNELS.md).
    channels_allow_private_value: str | None = Field(
        None, validation_alias="GITPULSE_CHANNELS_ALLOW_PRIVATE")
    trusted_proxies_value: str | None = Field(None, validation_alias="GITPULSE_TRUSTED_PROXIES")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `FOO=` in a .env file means "not configured", not "configured as empty".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("github_api_url", "github_url", "base_url", "api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    # Derived flags -------------------------------------------------------------------------
    @property
    def base_host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def is_local(self) -> bool:
        """True when the UI is served from this machine only (development)."""
        return self.base_host in LOCAL_HOSTS

    @property
    def is_https(self) -> bool:
        return self.base_url.lower().startswith("https://")

    @property
    def oauth_configured(self) -> bool:
        return bool(self.github_client_id and self.github_client_secret)

    @property
    def demo_enabled(self) -> bool:
        if self.demo_value is not None:
            return self.demo_value.strip().lower() in {"1", "true", "yes", "on"}
        return not self.oauth_configured and self.is_local

    @property
    def app_configured(self) -> bool:
        return bool(self.github_app_id and self.github_app_private_key)

    @property
    def voyage_enabled(self) -> bool:
        return bool(self.voyage_api_key)

    @property
    def openai_enabled(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_url)

    @property
    def channels_allow_private(self) -> bool:
        value = self.channels_allow_private_value
        return value is not None and value.strip().lower() in {"1", "true", "yes", "on"}

    @property
    def admins(self) -> frozenset[str]:
        if not self.admins_value:
            return frozenset()
        return frozenset(p.strip().lower() for p in self.admins_value.split(",") if p.strip())

    @property
    def trusted_proxies(self) -> frozenset[str]:
        """Peers whose `X-Forwarded-For` is believed (docs/SECURITY.md); none by default."""
        if not self.trusted_proxies_value:
            return frozenset()
        return frozenset(p.strip() for p in self.trusted_proxies_value.split(",") if p.strip())

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The browser origins the backend answers (CORS, websocket): the UI's and its own."""
        return tuple(dict.fromkeys(origin_of(url) for url in (self.base_url, self.api_url)))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secret_key(self) -> str:
        """The instance secret: explicit, or generated into `.gitpulse-secret` on a local host."""
        if self.secret_key_value:
            return self.secret_key_value
        if not self.is_local:
            raise ConfigurationError("GITPULSE_SECRET_KEY must be set in production")
        return _local_secret(SECRET_FILE.resolve())


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """The origin a browser sends for pages under `url`: scheme://host[:port], lower case, with
    no default port and no path."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@functools.cache
def _local_secret(path: Path) -> str:
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    generated = secrets.token_urlsafe(48)
    path.write_text(generated + "\n", encoding="utf-8")
    path.chmod(0o600)
    return generated


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def reload_settings() -> Settings:
    """Drop the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
    return get_settings()
