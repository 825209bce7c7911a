"""`make dev` step: run `demo seed` when the demo is on and nobody has signed up yet."""

from __future__ import annotations

import sys

from sqlalchemy import func
from sqlmodel import select

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience.cli.main import main as cli_main


def needs_demo_seed() -> bool:
    if not get_settings().demo_enabled:
        return False
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(User)).one() == 0


def main() -> int:
    if needs_demo_seed():
        return cli_main(["demo", "seed"])
    print("Demo seed not needed.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
