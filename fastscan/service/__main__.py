"""``python -m fastscan.service --bind tcp://127.0.0.1:PORT ...``: run the sampler service."""

import sys

from fastscan.service.cli import main

sys.exit(main())
