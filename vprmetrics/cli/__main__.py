import sys

from vprmetrics.cli import main

sys.exit(main())
