import sys

from actionrec.cli import main

sys.exit(main())
