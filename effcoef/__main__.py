"""``python -m effcoef ...``: the same command line as the ``effcoef`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
