"""Shipped rate-check settings (TOML), installed as ``gluon_mvr.configs``.

``--config NAME`` finds ``NAME.toml`` here when no file of that name exists in the working
folder, so the shipped settings work from any folder and from a wheel install.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def shipped_names() -> list[str]:
    """Names of the shipped settings (file stems)."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def shipped_path(name: str) -> Path | None:
    """Path of shipped setting ``name`` (with or without ``.toml`` or a ``configs/`` prefix)."""
    stem = Path(name).name
    stem = stem[:-5] if stem.endswith(".toml") else stem
    path = HERE / f"{stem}.toml"
    return path if path.is_file() else None
