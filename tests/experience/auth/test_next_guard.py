"""The open-redirect guard on `next`."""

from __future__ import annotations

import pytest

from gitpulse_app.experience.auth.next_guard import safe_next


@pytest.mark.parametrize("value", ["/reports/5", "/", "/repos/acme/api?range=30", "/timeline#x"])
def test_relative_in_app_paths_are_kept(value):
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [
    None, "", "//evil.com", "https://evil.com", "http:/evil.com", "/\\evil.com", "\\\\evil.com",
    "javascript:alert(1)", "evil.com", "/reports\n/5", "/a\x00b", "/a\x7fb", " /reports",
])
def test_anything_else_goes_to_the_dashboard(value):
    assert safe_next(value) == "/dashboard"
