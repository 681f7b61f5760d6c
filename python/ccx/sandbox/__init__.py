"""Meta WhatsApp Cloud API simulator on robyn, for tests, load tests and local trials.

Start it with `ccx sandbox` or `python -m ccx.sandbox`; see README.md in this folder.
"""

from ccx.sandbox.cli import main

__all__ = ["main"]
