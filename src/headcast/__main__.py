import sys

from headcast.cli import main

sys.exit(main())
