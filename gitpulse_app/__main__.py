"""`python -m gitpulse_app COMMAND` (README "Command line")."""

import sys

from gitpulse_app.experience.cli.main import main

sys.exit(main())
