"""`python -m gitpulse_app COMMAND` (CONTRACT §5)."""

import sys

from gitpulse_app.experience.cli.main import main

sys.exit(main())
