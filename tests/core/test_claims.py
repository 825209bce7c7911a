import os
import subprocess
import sys
from pathlib import Path

from gitpulse_app.core.claims import claim_id, holder_is_dead

ROOT = Path(__file__).resolve().parents[2]
CHILD = "from gitpulse_app.core.claims import claim_id; print(claim_id(), flush=True); input()"


def test_own_claim_is_alive():
    assert not holder_is_dead(claim_id())


def test_a_killed_process_is_a_dead_holder():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    holder = child.stdout.readline().strip()
    assert holder.count(":") == 2
    assert not holder_is_dead(holder)
    child.kill()
    child.wait()
    assert holder_is_dead(holder)


def test_a_reused_pid_with_another_start_time_is_dead():
    host, pid, started = claim_id().rsplit(":", 2)
    assert holder_is_dead(f"{host}:{pid}:{int(started) + 1}")


def test_holders_on_other_hosts_or_unparseable_are_never_dead_here():
    assert not holder_is_dead("some-other-host:1:1")
    assert not holder_is_dead("garbage")
    assert not holder_is_dead(None)
