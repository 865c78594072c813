"""``python -m reference_models SUBCOMMAND``: see :mod:`reference_models.cli`."""

import sys

from reference_models.cli import main

if __name__ == "__main__":
    sys.exit(main())
