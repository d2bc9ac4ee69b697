"""Problem families; importing this package registers each one by name."""
from gluon_mvr.problems.families import l0l1, nonconvex, quadratic, skewed, star, twolayer, zerochain  # noqa: F401
