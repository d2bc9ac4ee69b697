"""Problem families; importing this package registers each one by name."""
from . import quadratic  # noqa: F401
