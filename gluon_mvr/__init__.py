"""gluon-mvr: check the rates of Gluon, Muon, Scion and their MVR variants.

``import gluon_mvr as gm``; the rooms are :mod:`gluon_mvr.methods`, :mod:`gluon_mvr.problems`,
:mod:`gluon_mvr.theory`, :mod:`gluon_mvr.experiments` and :mod:`gluon_mvr.paper_figs`.
"""
from gluon_mvr._version import __version__

__all__ = ["__version__"]
