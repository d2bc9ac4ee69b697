"""Experiments: the machinery (:mod:`.core`: cells, store, executors, fitting, config), the
studies built on it (:mod:`.studies`) and the ``gluon-mvr`` command line (:mod:`.cli`)."""
