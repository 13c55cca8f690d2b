"""Dtypes named like PyTorch's, each backed by a NumPy dtype, and PyTorch's type promotion rules.

Nothing here touches tensors: the promotion functions take dtypes and Python scalars.
"""
from __future__ import annotations

import threading

import numpy as np


class dtype:
    """A PyTorch-style dtype: ``ndgrad.float32`` prints as ``torch.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_legacy")

    def __init__(self, name: str, np_dtype, legacy: str):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "fci"
        self.itemsize = self.np.itemsize
        self._legacy = legacy  # the name in legacy type strings such as `torch.FloatTensor`

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return self.name

    def to_real(self) -> "dtype":
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> "dtype":
        return {float16: complex64, float32: complex64, float64: complex128}.get(self, self)


bool_ = dtype("bool", np.bool_, "Bool")
uint8 = dtype("uint8", np.uint8, "Byte")
int8 = dtype("int8", np.int8, "Char")
int16 = dtype("int16", np.int16, "Short")
int32 = dtype("int32", np.int32, "Int")
int64 = dtype("int64", np.int64, "Long")
float16 = dtype("float16", np.float16, "Half")
float32 = dtype("float32", np.float32, "Float")
float64 = dtype("float64", np.float64, "Double")
complex64 = dtype("complex64", np.complex64, "ComplexFloat")
complex128 = dtype("complex128", np.complex128, "ComplexDouble")

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128)
# PERF: a dict keyed by np.dtype maps an array's dtype to ours in one lookup (~40 ns).
FROM_NUMPY = {d.np: d for d in ALL}

ALIASES = {
    "bool": bool_, "uint8": uint8, "int8": int8, "int16": int16, "short": int16, "int32": int32,
    "int": int32, "int64": int64, "long": int64, "float16": float16, "half": float16,
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "complex64": complex64, "cfloat": complex64, "complex128": complex128, "cdouble": complex128,
}


def category(d: dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex: the order in which kinds win promotion."""
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[d.np.kind]


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's promote_types: the smallest dtype both cast to safely (uint8 with int8 gives int16)."""
    if a is b:
        return a
    if a.is_complex or b.is_complex:
        real = promote_types(a.to_real(), b.to_real())
        return real.to_complex() if real.is_floating_point else complex64
    ka, kb = category(a), category(b)
    if ka != kb:
        # NOTE: unlike NumPy, an integer never widens a float: int64 with float16 gives float16.
        return a if ka > kb else b
    return FROM_NUMPY[np.promote_types(a.np, b.np)]


class _DefaultDtype(threading.local):
    value = float32


_default = _DefaultDtype()


def get_default_dtype() -> dtype:
    """The dtype of floating tensors made from Python floats, ``float32`` unless changed.

    >>> import ndgrad
    >>> ndgrad.get_default_dtype()
    torch.float32
    """
    return _default.value


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (``float32`` or ``float64``, or ``float16``)."""
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type")
    _default.value = d


def default_complex() -> dtype:
    return complex128 if _default.value is float64 else complex64


def scalar_dtype(value) -> dtype:
    """The dtype PyTorch gives a Python scalar on its own: bool, int64, the default float or complex."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default.value
    if isinstance(value, (complex, np.complexfloating)):
        return default_complex()
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def _combine(higher, lower):
    """Merge the result of a higher-priority group (dimensioned tensors) with a lower one."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(dims, zeros, scalars) -> dtype:
    """PyTorch's result type: dimensioned tensors first, then 0-d tensors, then Python scalars.

    A lower group only matters when it is of a higher kind: ``int32 tensor + 5`` stays int32,
    ``int64 tensor * 1.5`` becomes the default float dtype.
    """
    d = z = s = None
    for t in dims:
        d = t if d is None else promote_types(d, t)
    for t in zeros:
        z = t if z is None else promote_types(z, t)
    for v in scalars:
        t = scalar_dtype(v)
        s = t if s is None else promote_types(s, t)
    return _combine(d, _combine(z, s))


def to_dtype(value) -> dtype:
    """Accept an ndgrad dtype, a NumPy dtype or a Python type, as PyTorch's ``dtype=`` does."""
    if isinstance(value, dtype):
        return value
    if value is float:
        return float64
    if value is int:
        return int64
    if value is bool:
        return bool_
    if value is complex:
        return complex128
    try:
        return FROM_NUMPY[np.dtype(value)]
    except (TypeError, KeyError):
        raise TypeError(f"dtype must be a torch.dtype (got {type(value).__name__})") from None
