"""Shared fixtures: each harness lives in its own module under tests/support."""

pytest_plugins = [
    "tests.support.env",
    "tests.support.db",
    "tests.support.fake_http",
    "tests.support.fake_smtp",
    "tests.support.fake_github",
    "tests.support.browser",
    "tests.support.counts",
    "tests.support.fake_chat",
]
