"""The package version (one source: pyproject.toml reads nothing from here, so keep them equal;
``tests/test_packaging.py`` checks it)."""
__version__ = "0.2.0"
