"""Experiments: cells, the result store, executors, rate fits and the ``gluon-mvr`` CLI."""
__version__ = "0.1.0"
