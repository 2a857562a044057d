"""``python -m hwk4tune.cli``: the ``hwk4tune`` command."""

import sys

from hwk4tune.cli import main

sys.exit(main())
