"""``python -m rlkit ...``: the ``rlkit`` console script (``torchrun ... -m rlkit train ...``)."""

import sys

from rlkit.cli.main import main

sys.exit(main())
