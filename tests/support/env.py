"""Every test starts from a known configuration: none of GitPulse's variables leak in, and no
logging set-up an earlier test made (a command that points logging at its stdout) outlives it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gitpulse_app.core.config import Settings, reload_settings

CONTRACT_VARS = [field.validation_alias for field in Settings.model_fields.values()]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    for name in CONTRACT_VARS:
        monkeypatch.delenv(str(name), raising=False)
    monkeypatch.setenv("GITPULSE_SECRET_KEY", "test-secret-key")
    # A .env in the developer's checkout must not leak into tests.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    reload_settings()
    from gitpulse_app.experience.settings.service import CONFIRMATION_MAILS

    CONFIRMATION_MAILS.clear()  # a new process starts with no mail counted
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    reload_settings()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch):
    """Set environment variables for one test and re-read the settings."""

    def apply(**values: str | None) -> Settings:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        return reload_settings()

    return apply
