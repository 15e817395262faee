import sys

from espwatch.cli import main

sys.exit(main())
