"""No comment, docstring or document cites a section of a document outside the repository.

Comments state the rule themselves or point to a file under docs/ (docs/ARCHITECTURE.md lists
them); a section number of a document that is not in the repository means nothing to someone
holding only this repository.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = ("gitpulse_app", "tests", "bench", "docs", "alembic", "README.md", "BENCHMARKS.md",
            "alembic.ini", "Makefile", ".ci")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".ini", ".toml", ".cfg", ".mako", ".json", ".yml", ".yaml"}
# Built from parts, so this file does not match itself.
FORBIDDEN = tuple(name + " \u00a7" for name in ("SPEC", "CONTRACT"))


def _files() -> list[Path]:
    # Every text file at the top of the repository too (rxconfig.py, pytest.ini, ...).
    found: list[Path] = [path for path in ROOT.iterdir()
                         if path.is_file() and path.suffix in TEXT_SUFFIXES
                         and path.name not in SEARCHED]
    for entry in SEARCHED:
        path = ROOT / entry
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(child for child in path.rglob("*")
                         if child.is_file() and child.suffix in TEXT_SUFFIXES
                         and "__pycache__" not in child.parts and child != Path(__file__))
    return sorted(found)


def _outside_refs(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if any(marker in line for marker in FORBIDDEN)]


def test_no_reference_to_a_section_of_an_outside_document():
    hits = [f"{path.relative_to(ROOT)}:{number}: {line}"
            for path in _files()
            for number, line in _outside_refs(path.read_text(encoding="utf-8", errors="replace"))]
    assert not hits, "State the rule or point to docs/ instead of:\n" + "\n".join(hits)


def test_the_check_sees_the_whole_tree_and_catches_a_reference():
    names = {path.relative_to(ROOT).as_posix() for path in _files()}
    assert {"README.md", "gitpulse_app/core/models.py", "docs/ARCHITECTURE.md",
            "rxconfig.py"} <= names
    assert _outside_refs('"""Claims (' + FORBIDDEN[0] + '4 Claims)."""') == [
        (1, '"""Claims (' + FORBIDDEN[0] + '4 Claims)."""')]
    assert _outside_refs("# " + FORBIDDEN[1] + "3 variables") != []
    assert _outside_refs("# Claims: docs/recovery-clocks.md") == []
