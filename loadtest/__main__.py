import sys

from loadtest import run

sys.exit(run.main())
