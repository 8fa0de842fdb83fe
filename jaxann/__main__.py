import sys

from jaxann.cli import main

sys.exit(main())
