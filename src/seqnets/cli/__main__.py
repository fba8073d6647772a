"""``python -m seqnets.cli``: the same as the ``seqnets`` command."""

import sys

from . import main

sys.exit(main())
