"""``python -m tauro`` is ``tauro``."""

import sys

from tauro.cli import main

sys.exit(main())
