"""Problem families; importing this package registers each one by name."""
from . import l0l1, nonconvex, quadratic, star, twolayer  # noqa: F401
