"""Property: any argv makes the CLI exit 0, 1 or 2 with its reason on stderr, never a traceback.

`main(argv)` runs in-process against a migrated in-memory database that holds a user with facts and
a linked source, so well-formed commands get past parsing into the services; each argv gets its own
copy of that database. `GITHUB_API_URL`
points at a closed local port, so nothing reaches the network. `db upgrade` and `demo seed` rewrite
the database wholesale; here they only ever get a malformed argument (their own tests run them).

Instants at the ends of the calendar (outside years 1900-9998) are refused as bad usage (exit 2);
the property keeps to ordinary dates and the tests at the end check the edges.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.experience.cli.main import main
from tests.intelligence.reports.conftest import DEC4, World, at, commit, pr
from tests.support.db import process_engine

HANG_LIMIT_S = 60
ARGV_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
                    max_size=24)  # what a real argv can hold: no NUL, valid UTF-8
VALID_INSTANTS = st.sampled_from([
    "2025-12-05", "2025-12-04T06:00:00Z", "2025-12-05T15:00:00+05:45", "1900-01-01",
    "1970-01-01T00:00:00+14:00", "2999-12-31", "2100-12-31T23:59:59-12:00",
    "2025-12-05T10:00:00.123456Z"])
BAD_INSTANTS = st.sampled_from(["2025-02-30", "2025-12-05T25:00:00", "20251205", "yesterday", "",
                                "-1", "2025-12-05T10:00:00.123456789Z"])
# Hypothesis leans towards the simplest values; repeating the valid ones gets commands past parsing
INSTANTS = st.one_of(VALID_INSTANTS, VALID_INSTANTS, VALID_INSTANTS, BAD_INSTANTS, ARGV_TEXT)
KNOWN_LOGINS = st.sampled_from(["alice", "ALICE", "bob", "nobody", "-x", "a" * 300])
LOGINS = st.one_of(KNOWN_LOGINS, KNOWN_LOGINS, ARGV_TEXT)
KNOWN_REPOS = st.sampled_from(["acme/app", "ACME/APP", "acme/none", "acme", "/", "a/b/c"])
REPOS = st.one_of(KNOWN_REPOS, KNOWN_REPOS, ARGV_TEXT)
KNOWN_INSTALLATIONS = st.sampled_from(["1", "pat:1", "env", "pat:x", "0", "-5", "9" * 30])
INSTALLATIONS = st.one_of(KNOWN_INSTALLATIONS, KNOWN_INSTALLATIONS, ARGV_TEXT)
NUMBERS = st.one_of(st.integers(1, 50).map(str), st.integers(1, 50).map(str),
                    st.integers(-(10**20), 10**20).map(str), ARGV_TEXT)

Flags = list[tuple[str, "st.SearchStrategy[str] | None"]]
# command words → (required flags, optional flags); a flag's values, or None for a switch
COMMANDS: dict[tuple[str, ...], tuple[Flags, Flags]] = {
    ("sync",): ([], [("--installation", INSTALLATIONS), ("--repo", REPOS),
                     ("--since", INSTANTS), ("--wait", None)]),
    ("webhooks", "process"): ([], [("--retry-failed", None)]),
    ("report",): ([("--login", LOGINS),
                   ("--kind", st.sampled_from(["daily", "weekly", "daily", "weekly", "monthly"]))],
                  [("--end", INSTANTS), ("--start", INSTANTS), ("--query", ARGV_TEXT)]),
    ("tick",): ([], [("--at", INSTANTS)]),
    ("search",): ([("--login", LOGINS)],
                  [("--actor", LOGINS), ("--repo", REPOS),
                   ("--type", st.sampled_from(["commit", "pr_merged", "nope"]) | ARGV_TEXT),
                   ("--start", INSTANTS), ("--end", INSTANTS), ("--limit", NUMBERS)]),
    ("export",): ([("--login", LOGINS), ("--format", st.sampled_from(["csv", "md", "pdf"]))],
                  [("--start", INSTANTS), ("--end", INSTANTS)]),
    ("secrets", "rotate"): ([("--from-key-file", st.sampled_from([
        "KEYFILE", "EMPTYFILE", "BINARYFILE", "DIRECTORY", "/nonexistent/key"]))], []),
    ("db", "upgrade"): ([], []),
    ("demo", "seed"): ([], [("--reset", None)]),
}
WHOLESALE = {("db", "upgrade"), ("demo", "seed")}
WORDS = sorted({word for words in COMMANDS for word in words}
               | {flag for required, optional in COMMANDS.values()
                  for flag, _ in required + optional}
               | {"--json", "-h", "--help", "--", "-"})


@st.composite
def well_formed_ish(draw: st.DrawFn) -> list[str]:
    """A command with (usually) its required flags and some optional ones, values right or wrong,
    in random order, sometimes with a stray token."""
    words = draw(st.sampled_from(sorted(COMMANDS)))
    required, optional = COMMANDS[words]
    chosen = [flag for flag in required if draw(st.integers(0, 9))]  # each kept 9 times in 10
    if optional:
        chosen += draw(st.lists(st.sampled_from(optional), max_size=4))
    parts = [[flag] if values is None else [flag, draw(values)] for flag, values in chosen]
    if words == ("search",) and draw(st.integers(0, 9)):
        parts.append([draw(ARGV_TEXT)])
    if draw(st.booleans()):
        parts.append(["--json"])
    if not draw(st.integers(0, 7)):
        parts.append([draw(st.sampled_from(["--bogus", "-", "--"]) | ARGV_TEXT)])
    if words in WHOLESALE:
        parts.append(["--not-an-option"])
    order = draw(st.permutations(range(len(parts))))
    return list(words) + [token for index in order for token in parts[index]]


ARGVS = st.one_of(well_formed_ish(), well_formed_ish(), well_formed_ish(),
                  st.lists(st.sampled_from(WORDS) | ARGV_TEXT, max_size=6))


def run(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `main(argv)`; an escaping exception fails the caller."""
    out, err = io.StringIO(), io.StringIO()
    outcome: list[int | BaseException] = []

    def call() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                outcome.append(main(argv))
            except SystemExit as exc:  # argparse's --help
                outcome.append(exc.code if isinstance(exc.code, int) else 2)
            except BaseException as exc:  # noqa: BLE001 — reported below with its argv
                outcome.append(exc)

    # A thread, so that a command which never returns fails the test instead of hanging it.
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(HANG_LIMIT_S)
    assert outcome, f"{argv!r} did not return within {HANG_LIMIT_S} s"
    if isinstance(outcome[0], BaseException):
        raise AssertionError(f"{argv!r} raised {outcome[0]!r}") from outcome[0]
    return outcome[0], out.getvalue(), err.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def key_files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "key").write_text("an-old-secret-key\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "directory").mkdir()
    return {"KEYFILE": str(tmp_path / "key"), "EMPTYFILE": str(tmp_path / "empty"),
            "BINARYFILE": str(tmp_path / "binary"), "DIRECTORY": str(tmp_path / "directory")}


def check(argv: list[str], code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err[-3000:])
    if code:
        assert err.strip(), (argv, code)
    if "--json" in argv and not {"-h", "--help"} & set(argv):
        lines = out.splitlines()
        assert len(lines) == 1, (argv, out)
        parsed = json.loads(lines[0])
        assert isinstance(parsed, dict)
        if code:
            assert set(parsed) == {"error"}, (argv, parsed)


@pytest.fixture
def seeded(sqlite_template, configure) -> Iterator[sqlite3.Connection]:
    """An in-memory database where alice sees acme/app (an App installation) with three facts.

    Every example runs on its own copy, so no argv sees what an earlier one did (a tick far in the
    future, say) and a failure shrinks to the one argv that causes it. No network: GitHub's API
    URL is a closed local port.
    """
    configure(GITHUB_API_URL=f"http://127.0.0.1:{closed_port()}")
    seeded_db = sqlite3.connect(":memory:", check_same_thread=False)
    sqlite_template.backup(seeded_db)
    engine = create_db_engine("sqlite://", poolclass=StaticPool,
                              creator=lambda: seeded_db)
    set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = World(session)
            alice = world.user("alice")
            repo = world.repo("acme/app", seen_by=(alice,))
            world.add(pr(repo, alice, 7, "Add search", at(3)),
                      commit(repo, alice, "Fix login", at(5)),
                      commit(repo, alice, "Tidy up", at(30, DEC4[1])))
    finally:
        set_engine(None)
    yield seeded_db
    seeded_db.close()


@contextlib.contextmanager
def copy_of(seeded_db: sqlite3.Connection) -> Iterator[None]:
    """The process-wide engine on a fresh copy of the seeded database, for one example."""
    engine = create_db_engine("sqlite://", poolclass=StaticPool)
    raw = engine.raw_connection()
    try:
        seeded_db.backup(raw.driver_connection)
    finally:
        raw.close()
    with process_engine(engine):
        yield


@contextlib.contextmanager
def file_copy_of(seeded_db: sqlite3.Connection, path: Path) -> Iterator[None]:
    """The process-wide engine on a copy of the seeded database in a file: a connection per
    thread, as the app has, for commands that work in several threads at once (`sync --wait`).
    One in-memory connection shared by every thread would let one thread's commit end another's
    transaction."""
    with sqlite3.connect(path) as target:
        seeded_db.backup(target)
    target.close()
    with process_engine(create_db_engine(f"sqlite:///{path}")):
        yield


def test_any_argv_exits_0_1_or_2_with_a_reason_and_never_a_traceback(
    seeded, tmp_path, record_counts
):
    paths = key_files(tmp_path)
    outcomes: Counter[int] = Counter()

    @settings(max_examples=1500, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(ARGVS)
    def property_holds(argv: list[str]) -> None:
        argv = [paths.get(token, token) for token in argv]
        # `sync --wait` works in several threads: give it a connection per thread (a file).
        database = (file_copy_of(seeded, tmp_path / f"wait-{sum(outcomes.values())}.db")
                    if "--wait" in argv else copy_of(seeded))
        with database:
            code, out, err = run(argv)
        outcomes[code] += 1
        check(argv, code, out, err)

    property_holds()
    record_counts(inputs_tried=sum(outcomes.values()), exit_0=outcomes[0], exit_1=outcomes[1],
                  exit_2=outcomes[2], tracebacks=0)


# Instants at the ends of the calendar are refused as bad usage ------------------------------------
@pytest.mark.parametrize("at_", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                 "0001-01-01"])
def test_tick_at_the_ends_of_the_calendar_exits_cleanly(seeded, at_):
    argv = ["tick", "--at", at_, "--json"]
    with copy_of(seeded):
        check(argv, *run(argv))


def test_a_sync_since_year_1_leaves_the_database_readable(seeded, tmp_path):
    with file_copy_of(seeded, tmp_path / "copy.db"):
        for argv in (["sync", "--since", "0001-01-01", "--json"], ["sync", "--wait", "--json"]):
            check(argv, *run(argv))
