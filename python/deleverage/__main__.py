"""``python -m deleverage``: the command line."""

import sys

from deleverage.cli import main

sys.exit(main())
