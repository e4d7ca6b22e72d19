"""Lets ``python -m eventloop`` run the command-line interface in ``eventloop.cli``."""

import sys

from eventloop.cli import main

sys.exit(main())
