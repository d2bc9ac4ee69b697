"""The result object every study returns (in the manner of scipy's ``OptimizeResult`` and PEPit's
``(measured, theoretical)``): tidy rows, the command line's table, a figure, a JSON document."""
from __future__ import annotations

import json


class StudyResult:
    """A study's outcome.

    Attributes
    ----------
    study : str
        Which study (``'tuned-rates'``, ``'certification'``, ...).
    rows : list of dict
        Tidy rows (one per measured unit: per method and horizon, per layer, ...), each with the
        measured value and, where the study has one, the theoretical value beside it.
    document : dict
        The full JSON-able report (what ``--json`` writes).
    """

    def __init__(self, study: str, rows: list, document: dict, formatter, plotter=None):
        self.study, self.rows, self.document = study, list(rows), document
        self._format, self._plot = formatter, plotter

    def table(self) -> str:
        """The command line's table."""
        return self._format(self.document)

    def to_frame(self):
        """Tidy pandas DataFrame of :attr:`rows`."""
        import pandas
        return pandas.DataFrame(self.rows)

    def to_json(self) -> dict:
        """The JSON-able report."""
        return json.loads(json.dumps(self.document, default=float))

    def plot(self, ax=None):
        """The study's figure on ``ax`` (a new one if ``None``); returns the Axes."""
        if self._plot is None:
            raise NotImplementedError(f"study {self.study!r} has no figure (see gluon-mvr figs)")
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        self._plot(self.document, ax)
        return ax

    def __repr__(self):
        return f"StudyResult({self.study!r}, {len(self.rows)} rows)"
