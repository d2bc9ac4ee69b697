"""How every subcommand fails: one line naming the problem, never a traceback.

:func:`run_command` wraps a subcommand's handler: a known problem (bad input, an unusable
store, executor or device, an unwritable output) prints ``gluon-mvr COMMAND: error: ...`` and
exits 2; Ctrl-C prints one line saying where things stand (every finished cell is in the
store, a rerun resumes) and exits 130; anything else is reported the same way as an internal
error (``GLUON_MVR_DEBUG=1`` re-raises it for the traceback).  The output helpers
(:func:`check_output`, :func:`write_json`, :func:`open_output`) let handlers check an output
path *before* computing and treat ``-`` as stdout.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix; the message is one line naming the option and the problem."""


def check_output(path, option: str = "--json", folder: bool = False) -> None:
    """Raise :class:`UserError` unless ``path`` (a file, or a folder when ``folder``) can be
    written: ``None`` and ``-`` (stdout) always can.  Creates nothing."""
    if path is None or path == "-":
        return
    path = os.fspath(path)
    if not path.strip():
        raise UserError(f"{option}: expected a path; got {path!r}")
    full = os.path.abspath(path)
    if os.path.exists(full):
        if folder and not os.path.isdir(full):
            raise UserError(f"{option} {path}: exists and is not a folder")
        if not folder and os.path.isdir(full):
            raise UserError(f"{option} {path}: is a folder; give a file path (or '-' for stdout)")
        if not os.access(full, os.W_OK):
            raise UserError(f"{option} {path}: not writable (permission denied or read-only file system)")
        return
    # the nearest existing ancestor must be a writable folder (the rest is created)
    parent = os.path.dirname(full)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {path}: folder {parent} is not writable "
                        f"(permission denied or read-only file system)")


def open_output(path, option: str = "--out", newline=None):
    """A text file handle for ``path`` (``-``: stdout, not closed by the caller's ``with``)."""
    if path == "-":
        return _Unclosed(sys.stdout)
    check_output(path, option)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return open(path, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None


class _Unclosed:
    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self.fh

    def __exit__(self, *exc):
        self.fh.flush()
        return False


def write_json(path, doc, option: str = "--json", **dump_kw) -> None:
    """Write ``doc`` as JSON to ``path`` (``-``: stdout)."""
    dump_kw.setdefault("indent", 2)
    with open_output(path, option) as fh:
        json.dump(doc, fh, **dump_kw)
        fh.write("\n")


def describe(exc: BaseException) -> str:
    """One line for an exception (the part after ``error:``)."""
    from gluon_mvr.experiments.core.executors import ExecutorError
    from gluon_mvr.experiments.core.store import StoreError
    try:
        from gluon_mvr.experiments.core.config import ConfigError
    except ImportError:           # pragma: no cover - config is always importable
        ConfigError = ValueError  # noqa: N806
    msg = " ".join(str(exc).split())
    if isinstance(exc, (UserError, StoreError, ExecutorError, ConfigError)):
        return msg
    if isinstance(exc, sqlite3.DatabaseError):
        return f"store: {msg}"
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror or msg}" if where else (exc.strerror or msg)
    if isinstance(exc, ImportError):
        return f"missing package {exc.name or ''}: {msg}".replace("  ", " ")
    if isinstance(exc, MemoryError):
        return "out of memory: use fewer seeds or smaller problems"
    return f"internal error ({type(exc).__name__}: {msg[:200]}); GLUON_MVR_DEBUG=1 shows the traceback"


def _where_things_stand() -> str:
    from gluon_mvr.experiments.core.executors import STATS
    n = STATS.get("written", 0)
    return (f"interrupted; the store is intact ({n} cell{'s' if n != 1 else ''} finished and stored "
            f"in this run; a rerun reuses them and resumes)")


def run_command(name: str, func, args) -> int:
    """Run ``func(args)`` and turn every failure into one line on stderr and an exit code."""
    try:
        code = func(args)
        return 0 if code is None else code
    except KeyboardInterrupt:
        # a second Ctrl-C while reporting must not print a traceback either
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"gluon-mvr {name}: {_where_things_stand()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed by the reader (e.g. `| head`): nothing left to say to anyone
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as exc:       # noqa: BLE001 - the point: no traceback reaches the user
        if os.environ.get("GLUON_MVR_DEBUG"):
            raise
        if _caused_by_interrupt(exc):
            # Ctrl-C landed inside a library's cleanup (joblib's pool starting or stopping raised
            # while handling the KeyboardInterrupt): it is still an interruption, not an error
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print(f"gluon-mvr {name}: {_where_things_stand()}", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"gluon-mvr {name}: error: {describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in ``exc``'s chain of causes and contexts."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
