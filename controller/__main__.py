"""`python -m controller [flags]`: the same as `flagman controller [flags]`."""

import sys

from controller.cli import main

sys.exit(main())
