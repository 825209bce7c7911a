"""Split brain is harmless: two processes ticking the same instant against one
PostgreSQL database make each report once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import EmailDelivery, Report, ReportJobHistory
from gitpulse_app.intelligence.scheduler import run_tick
from tests.intelligence.scheduler.conftest import Town, utc

ROOT = Path(__file__).resolve().parents[3]
AT = utc(2025, 12, 8, 12, 0)
ZONES = ["America/Los_Angeles", "America/Chicago", "Europe/London", "Asia/Kolkata",
         "Asia/Kathmandu", "Asia/Tokyo", "Pacific/Kiritimati", "UTC"]


def populate(engine) -> int:
    """A user per zone, each owed seven days and a week; returns how many reports are due."""
    with Session(engine, expire_on_commit=False) as session:
        town = Town(session)
        for n, zone in enumerate(ZONES):
            user = town.user(f"twin{n}", zone, onboarded=utc(2025, 11, 1),
                             email=f"twin{n}@example.com")
            town.every(user, utc(2025, 11, 28), utc(2025, 12, 8), dt.timedelta(hours=12))
    return len(ZONES) * 8


def windows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.select(Report.user_id, Report.schedule_type, Report.start_date,
                                      Report.end_date)).all()


@pytest.mark.postgres
def test_two_processes_ticking_at_once_make_each_report_once(pg_engine):
    due = populate(pg_engine)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_",
                                "SMTP_"))}
    env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test",
            "DATABASE_URL": pg_engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-m", "gitpulse_app", "tick", "--at", AT.isoformat(), "--json"]

    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs[0][1][-2000:]
    results = [json.loads(out) for out, _ in outputs]
    assert all(result["daily"]["errors"] == result["weekly"]["errors"] == 0
               for result in results)
    rows = windows(pg_engine)
    assert len(rows) == len(set(rows)) == due
    with pg_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ReportJobHistory)).scalar() == 4
        deliveries = conn.execute(sa.select(EmailDelivery.report_id)).scalars().all()
    assert len(deliveries) == len(set(deliveries)) == due  # one email per report


@pytest.mark.postgres
def test_two_leaders_in_one_process_make_each_report_once(pg_engine):
    due = populate(pg_engine)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_tick, [AT, AT]))

    assert all(r.daily.errors == 0 and r.weekly.errors == 0 for r in results)
    rows = windows(pg_engine)
    assert len(rows) == len(set(rows)) == due
    assert run_tick(AT).daily.reports_generated == 0
