"""`python -m ccx.sandbox`: same as `ccx sandbox`."""

from ccx.sandbox.cli import main

raise SystemExit(main())
