"""``python -m emollm_plugin.cli``: the ``emollm`` command without the console script."""

import sys

from emollm_plugin.cli import main

sys.exit(main())
