import sys

from gluon_mvr.experiments.cli.main import main

sys.exit(main())
