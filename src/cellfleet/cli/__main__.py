"""``python -m cellfleet.cli``: the same as the ``cellfleet`` command."""

import sys

from cellfleet.cli import main

sys.exit(main())
