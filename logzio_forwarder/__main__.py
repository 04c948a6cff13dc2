"""``python -m logzio_forwarder``: see :mod:`logzio_forwarder.cli`."""

import sys

from .cli import main

sys.exit(main())
