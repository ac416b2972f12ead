import sys

from rjcoach.cli import main

sys.exit(main())
