"""PyTorch bridge: Gluon and Gluon-MVR-1/2/3 as ``torch.optim`` optimizers, real data shipped in
packages, small models, and three studies (``gluon-mvr nets compare|smoothness|coupling``).

Optional: needs the ``[torch]`` extra (``pip install -e ".[torch]"``).  Nothing else in
``gluon_mvr`` imports torch.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:    # one clear line instead of a deep traceback
    raise ImportError("gluon_mvr.nets needs PyTorch: pip install 'gluon-mvr[torch]'") from exc

from gluon_mvr.nets.optim import METHODS, Gluon  # noqa: E402

__all__ = ["Gluon", "METHODS"]
