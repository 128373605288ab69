"""Running the package as a module (python -m) is the same as the console script."""

import sys

from .cli import main

sys.exit(main())
