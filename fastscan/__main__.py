"""``python -m fastscan`` runs the command-line tool."""

import sys

from fastscan.cli import main

sys.exit(main())
