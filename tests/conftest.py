"""Shared fixtures: each harness lives in its own module under tests/support."""

pytest_plugins = [
    "tests.support.env",
    "tests.support.db",
    "tests.support.fakeserver",
    "tests.support.browser",
    "tests.support.counts",
    "tests.support.fake_chat",
]
