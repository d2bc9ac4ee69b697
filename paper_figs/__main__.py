import sys

from gluon_mvr.experiments.cli.figs import main

sys.exit(main())
