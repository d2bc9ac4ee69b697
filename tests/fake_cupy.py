"""A strict stand-in for CuPy that runs on the CPU, to exercise the ``device='gpu'`` code path
where no GPU is present (CI never has one).

It reproduces the rules of CuPy that host code breaks most often, and nothing else:

- a device array refuses implicit conversion to NumPy (``numpy.asarray(d)``, ``float`` of a
  non-scalar) with CuPy's ``TypeError``; it also refuses every ``numpy.*`` function called on
  it, which is stricter than CuPy (whose ``__array_function__`` serves many of them): the code
  must ask ``array_namespace`` for the module instead;
- operators and functions refuse to mix device arrays with NumPy arrays (CuPy raises
  ``TypeError: Unsupported type <class 'numpy.ndarray'>``); host data reaches the device only
  through ``asarray``/``array`` and leaves it only through ``.get()``/``asnumpy``;
- reductions return 0-d device arrays, never NumPy scalars.

Arithmetic is NumPy's, so a run on the fake device must equal the CPU run bit for bit: any
difference means the device path computes something else.  What it cannot check: CuPy's own
numerics (cuSOLVER, cuBLAS) and functions CuPy lacks; the ``gpu``-marked tests do that on a
real GPU.
"""
from __future__ import annotations

import types

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

# host -> device entry points: the only functions that accept NumPy arrays
_HOST_ENTRY = {"asarray", "array", "asanyarray", "ascontiguousarray"}


class DeviceArray(NDArrayOperatorsMixin):
    """An array that lives on the fake device (wraps, never exposes, a NumPy array)."""

    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a):
        self._a = a

    # -- refusals that mirror CuPy -------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} called on a device array (use the cupy namespace)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_unwrap(x, ufunc.__name__) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o, ufunc.__name__) for o in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    # -- the ndarray surface -------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    T = property(lambda self: DeviceArray(self._a.T))
    real = property(lambda self: DeviceArray(self._a.real))
    imag = property(lambda self: DeviceArray(self._a.imag))

    def get(self):
        """Device -> host copy."""
        return self._a.copy()

    def __getattr__(self, name):
        if name.startswith("__"):   # no __array_interface__ / buffer: NumPy must not see the data
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap_all(args, name), **_unwrap_kwargs(kwargs, name)))
        return method

    def __getitem__(self, idx):
        return _wrap(self._a[_unwrap_index(idx)])

    def __setitem__(self, idx, value):
        self._a[_unwrap_index(idx)] = _unwrap(value, "__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __bool__(self):
        return bool(self._scalar())

    def __index__(self):
        return self._scalar().__index__()

    def _scalar(self):
        if self._a.size != 1:
            raise TypeError("only size-1 device arrays convert to Python scalars")
        return self._a.reshape(()).item()

    def __repr__(self):
        return f"DeviceArray({self._a!r})"


def _unwrap(x, where):
    if isinstance(x, DeviceArray):
        return x._a
    if isinstance(x, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(x)} in {where}: a NumPy array mixed with device arrays")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, where) for v in x)
    return x


def _unwrap_all(args, where):
    return [_unwrap(a, where) for a in args]


def _unwrap_kwargs(kwargs, where):
    return {k: _unwrap(v, where) for k, v in kwargs.items()}


def _unwrap_index(idx):
    """Indices may be Python ints/slices/lists (CuPy accepts those) or device arrays."""
    if isinstance(idx, tuple):
        return tuple(_unwrap_index(i) for i in idx)
    if isinstance(idx, DeviceArray):
        return idx._a
    if isinstance(idx, numpy.ndarray):
        raise TypeError("indexing a device array with a NumPy array")
    return idx


def _wrap(x):
    """NumPy results become device arrays; NumPy scalars become 0-d device arrays (CuPy's
    reductions never return host scalars)."""
    if isinstance(x, numpy.ndarray):
        return DeviceArray(x)
    if isinstance(x, numpy.generic):
        return DeviceArray(numpy.asarray(x))
    if isinstance(x, tuple):
        wrapped = [_wrap(v) for v in x]
        return type(x)(*wrapped) if hasattr(x, "_fields") else tuple(wrapped)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class _Namespace(types.ModuleType):
    """NumPy's namespace (or a submodule of it) with device-array rules."""

    def __init__(self, name, target):
        super().__init__(name)
        self._target = target

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if isinstance(attr, types.ModuleType):
            return _Namespace(f"{self.__name__}.{name}", attr)
        if isinstance(attr, type) or not callable(attr):   # dtypes, classes, constants
            return attr
        host_entry = name in _HOST_ENTRY

        def function(*args, **kwargs):
            if host_entry:
                args = [a._a if isinstance(a, DeviceArray) else a for a in args]
                return DeviceArray(numpy.array(attr(*args, **kwargs), copy=True))
            return _wrap(attr(*_unwrap_all(args, f"{self.__name__}.{name}"),
                              **_unwrap_kwargs(kwargs, f"{self.__name__}.{name}")))
        function.__name__ = name
        return function


def make_fake_cupy():
    """A module object that quacks like ``cupy`` for :mod:`methods.backend`."""
    fake = _Namespace("fakecupy", numpy)
    fake.ndarray = DeviceArray
    fake.asnumpy = lambda a: a.get() if isinstance(a, DeviceArray) else numpy.asarray(a)
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
    return fake
