import sys

from flagman.cli import main

sys.exit(main())
