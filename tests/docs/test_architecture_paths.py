"""Every module path the documents name exists, so docs/ cannot silently point at moved code.

Slash paths (`gitpulse_app/core/models.py`, `gitpulse_app/intelligence/reports/`) must be a file
or a directory of the repository. Dotted names (`gitpulse_app.acquisition.access.visible_repo_ids`,
`gitpulse_app.api:app`) must name a module or package, optionally followed by one name that the
module defines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*ROOT.glob("docs/*.md"), *ROOT.glob("docs/decisions/*.md")])
SLASH_PATH = re.compile(r"gitpulse_app/[A-Za-z0-9_./]*")
# Not inside a slash path, and not a file name such as `gitpulse_app.py`.
DOTTED_NAME = re.compile(
    r"(?<![/\w.])gitpulse_app(?!\.py\b)(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?", re.ASCII)


def _slash_paths(text: str) -> set[str]:
    return {match.rstrip(".") for match in SLASH_PATH.findall(text)}


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _dotted_problem(name: str) -> str | None:
    """Why `name` does not resolve, or None when it does."""
    dotted, _, attribute = name.partition(":")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module_file(parts[:cut])
        if module is None:
            continue
        rest = parts[cut:] + ([attribute] if attribute else [])
        if not rest:
            return None
        if len(rest) > 1:
            return f"{'.'.join(parts[:cut])} has no submodule {rest[0]}"
        defined = re.compile(rf"^\s*(?:async\s+def|def|class)\s+{rest[0]}\b|^{rest[0]}\b\s*[:=]"
                             rf"|^(?:from|import)\s[^\n]*\b{rest[0]}\b", re.MULTILINE)
        if not defined.search(module.read_text(encoding="utf-8")):
            return f"{module.relative_to(ROOT)} defines no {rest[0]}"
        return None
    return "no such module"


def test_the_documents_exist():
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert "docs/ARCHITECTURE.md" in names
    assert any(name.startswith("docs/decisions/") for name in names)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_named_module_path_exists(document: Path):
    text = document.read_text(encoding="utf-8")
    missing = sorted(path for path in _slash_paths(text) if not (ROOT / path).exists())
    unresolved = sorted(f"{name}: {problem}" for name in set(DOTTED_NAME.findall(text))
                        if (problem := _dotted_problem(name)))
    assert not missing, f"{document.name} names paths that do not exist: {missing}"
    assert not unresolved, f"{document.name} names modules that do not resolve: {unresolved}"


def test_the_check_catches_a_path_that_does_not_exist():
    assert _slash_paths("see `gitpulse_app/core/nowhere.py`.") == {"gitpulse_app/core/nowhere.py"}
    assert not (ROOT / "gitpulse_app/core/nowhere.py").exists()
    assert _dotted_problem("gitpulse_app.core.nowhere") is not None
    assert _dotted_problem("gitpulse_app.core.models.NoSuchTable") is not None
    assert _dotted_problem("gitpulse_app.core.models.Event") is None
    assert _dotted_problem("gitpulse_app.api:app") is None
