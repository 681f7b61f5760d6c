"""`python -m ccx`: the `ccx` command without its console script."""

import sys

from ccx.cli import main

sys.exit(main())
