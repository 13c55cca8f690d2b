"""The Tensor: a NumPy array plus the autograd bookkeeping PyTorch keeps beside it.

Math lives in the op table (``_ops``); Tensor methods are one-line forwards to it.
"""
from __future__ import annotations

import warnings
import weakref

import numpy as np

from . import _dtypes
from ._dtypes import FROM_NUMPY
from ._printing import tensor_repr
from .autograd.engine import RemovableHandle
from .autograd.grad_mode import state

_object_new = object.__new__

NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``torch.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class device:
    """The device a tensor lives on; only ``cpu`` for NumPy-backed tensors."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        self.type, self.index = str(type).split(":")[0], index

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


class Tensor:
    """An n-dimensional array that can record the ops applied to it (`torch.Tensor`)."""

    # PERF: the attributes every op touches are slots; rarely used ones (hooks, view data) live
    # in __dict__ with class-level defaults, so creating a tensor sets only three attributes.
    __slots__ = ("_data", "_grad_fn", "_vc", "__dict__", "__weakref__")
    _requires_grad = False
    _grad = None
    _output_nr = 0
    _base = None
    _view_fn = None
    _view_ver = 0
    _hooks = None
    _post_hooks = None
    _retains_grad = False
    _acc = None
    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to our reflected operators

    def __init__(self, *args, **kwargs):
        from ._creation import _legacy_init
        _legacy_init(self, *args, **kwargs)

    # -- identity ---------------------------------------------------------------------------
    __hash__ = object.__hash__

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return FROM_NUMPY[self._data.dtype]

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def layout(self):
        return "torch.strided"

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    # -- conversions ------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array, shared with this tensor."""
        if not force and state.enabled and self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data.copy() if force and self.requires_grad else self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def _scalar(self, kind):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return kind(self._data.reshape(()).item())

    def __float__(self):
        return self._scalar(float)

    def __int__(self):
        return self._scalar(int)

    def __complex__(self):
        return self._scalar(complex)

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()).item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def to(self, *args, **kwargs):
        """Cast to a dtype (devices other than ``cpu`` belong to a backend)."""
        target = kwargs.get("dtype")
        for a in args:
            if isinstance(a, _dtypes.dtype):
                target = a
            elif isinstance(a, Tensor):
                target = a.dtype
            elif isinstance(a, (str, device)) and device(a).type != "cpu":
                raise RuntimeError(f"ndgrad tensors live on the cpu; device '{a}' is not available")
        if target is None or target is self.dtype:
            if kwargs.get("copy"):
                return self.clone()
            return self
        from ._api import to_dtype
        return to_dtype(self, target)

    def type(self, dtype=None):
        if dtype is None:
            return f"torch.{self.dtype._legacy}Tensor"
        return self.to(dtype)

    def float(self):
        return self.to(_dtypes.float32)

    def double(self):
        return self.to(_dtypes.float64)

    def half(self):
        return self.to(_dtypes.float16)

    def long(self):
        return self.to(_dtypes.int64)

    def int(self):
        return self.to(_dtypes.int32)

    def short(self):
        return self.to(_dtypes.int16)

    def bool(self):
        return self.to(_dtypes.bool_)

    def byte(self):
        return self.to(_dtypes.uint8)

    def char(self):
        return self.to(_dtypes.int8)

    def cpu(self):
        return self

    def contiguous(self, memory_format=None):
        """This tensor when its elements are laid out in order, else a contiguous copy."""
        if self._data.flags.c_contiguous:
            return self
        from ._api import clone
        t = clone(self)  # NOTE: a clone keeps the strides (as PyTorch's preserve_format does)
        t._data = np.ascontiguousarray(t._data)
        return t

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, bool):
            raise RuntimeError("requires_grad must be a bool")
        self._set_requires_grad(value, "only Tensors of floating point and complex dtype can "
                                       "require gradients")

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self._set_requires_grad(bool(requires_grad), "only Tensors of floating point dtype can "
                                                     "require gradients")
        return self

    def _set_requires_grad(self, value: bool, not_float: str) -> None:
        from ._ops import UNREACHED, mark_views
        fn = self._grad_fn
        if fn is UNREACHED and self._sync_grad_fn() is None:
            # NOTE: a view cut before its base required grad is a leaf here, as in PyTorch:
            # requires_grad=True makes it one of its own, False leaves it following its base.
            if value:
                self._grad_fn, self._view_ver = None, self.__dict__.pop("_cut_at")
            self._requires_grad = value
            return
        if fn is not None:
            msg = "you can only change requires_grad flags of leaf variables."
            if not value:
                msg += (" If you want to use a computed variable in a subgraph that doesn't "
                        "require differentiation use var_no_grad = var.detach().")
            raise RuntimeError(msg)
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(not_float)
        self._requires_grad = value
        if "_plain_views" in self.__dict__:
            mark_views(self, value)

    @property
    def is_leaf(self) -> bool:
        # NOTE: as PyTorch's, this reads grad_fn, which a view may have to make first
        return self._grad_fn is None or self._sync_grad_fn() is None

    @property
    def grad_fn(self):
        return self._sync_grad_fn()

    def _sync_grad_fn(self):
        """A view whose base was changed in place since its grad_fn was made gets a fresh one."""
        if self._base is not None and self._view_ver != self._vc[0] and self.requires_grad:
            from ._ops import UNREACHED, regenerate_view
            if self._grad_fn is UNREACHED and self._cut_at == self._vc[0]:
                return None
            regenerate_view(self)
        return self._grad_fn

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def grad(self):
        if self._grad_fn is not None and not self._retains_grad and self._grad is None and \
                not self.is_leaf:
            warnings.warn(NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of type "
                                + type(value).__name__)
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            if value.dtype is not self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_c10_name(value.dtype)}' to a "
                    f"tensor with grad_dtype '{self.dtype._legacy}'. The gradient must match the "
                    "tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
                    "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
                    "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may "
                    "break downstream systems that assume they match.")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                    f"tensor of size '{list(self._data.shape)}'. Please ensure that the gradient and "
                    "the tensor are the same size")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        from ._ops import REBASED, UNREACHED
        # NOTE: PyTorch's check sees a view whose base got a history as a leaf until its new
        # grad_fn is read (see _ops.REBASED): retain_grad() does nothing then.
        fn = self._grad_fn
        if fn is None or fn is REBASED or fn is UNREACHED or self._retains_grad:
            return
        fn = self._sync_grad_fn()
        if fn._retained is None:
            fn._retained = {}
            fn.fastop = None
        fn._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook) -> RemovableHandle:
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.is_leaf:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return RemovableHandle(self._hooks, hook)
        fn = self._sync_grad_fn()
        if fn._tensor_hooks is None:
            fn._tensor_hooks = {}
            fn.fastop = None
        hooks = fn._tensor_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> RemovableHandle:
        """``hook(tensor)`` runs after a leaf's ``.grad`` has been updated."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def data(self) -> "Tensor":
        # NOTE: `.data` shares storage but not the version counter, as in PyTorch.
        return _wrap(self._data)

    @data.setter
    def data(self, value: "Tensor"):
        self._data = value._data

    def detach(self) -> "Tensor":
        """A tensor sharing this one's storage and version counter, cut from the graph."""
        t = _object_new(Tensor)
        t._data, t._grad_fn, t._vc = self._data, None, self._vc
        return t

    def detach_(self) -> "Tensor":
        if self._base is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as "
                "True, gradients are views of DDP buckets, and hence detach_() cannot be called on "
                "these gradients. To fix this error, please refer to the Optimizer.zero_grad() "
                "function in torch/optim/optimizer.py as the solution.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into the leaves' ``.grad``."""
        # NOTE: a view cut before its base required grad has a grad_fn, yet no edge to run
        # (see _ops.UNREACHED): _sync_grad_fn tells, and only views need asking.
        if gradient is None and inputs is None and not create_graph and (
                self._requires_grad or self._grad_fn is not None and (
                    self._base is None or self._sync_grad_fn() is not None)):
            d = self._data
            if d.size == 1 and d.dtype.kind == "f":
                # PERF: a scalar loss, the common case, skips autograd.backward's argument
                # handling; np.ones is a Python function, twice the cost of this seed.
                seed = np.array(1.0, d.dtype).reshape(d.shape)
                _engine.run_backward((self,), (seed,), bool(retain_graph), False)
                return
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def _is_view(self) -> bool:
        return self._base is not None

    # -- printing ---------------------------------------------------------------------------
    def __repr__(self, *, tensor_contents=None) -> str:
        fn = self.grad_fn
        d = _dtypes.get_default_dtype()
        return tensor_repr(self._data, self.dtype, (d, d.to_complex(), _dtypes.int64, _dtypes.bool_),
                           None if fn is None else type(fn).__name__, self.requires_grad,
                           "tensor(" if type(self) is Tensor else type(self).__name__ + "(")

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self._data.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._data, self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.  If you were attempting to "
                               "deepcopy a module, this may be because of a torch.nn.utils.weight_norm "
                               "usage, see https://github.com/pytorch/pytorch/pull/103001")
        t = _wrap(self._data.copy())
        t._requires_grad = self.requires_grad  # a view cut before its base required grad too
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t


def _c10_name(d) -> str:
    """The name C++ messages use for a dtype: 'double', 'float', 'long int'..."""
    return {"float64": "double", "float32": "float", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}[d.name]


def _rebuild(data, requires_grad):
    t = _wrap(data)
    t._requires_grad = requires_grad
    return t


def _wrap(arr: np.ndarray, grad_fn=None) -> Tensor:
    """Make a tensor around an array without any checks: the internal path."""
    # PERF: bypassing __init__ and setting three slots makes a tensor in ~0.25 us.
    t = _object_new(Tensor)
    t._data = arr
    t._grad_fn = grad_fn
    t._vc = [0]
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalize a possibly negative dim, with PyTorch's error when it is out of range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


# The engine and the autograd API import this module's names lazily; bind them once here.
from . import autograd as _autograd  # noqa: E402
from .autograd import engine as _engine  # noqa: E402

_engine.Tensor = _autograd.Tensor = Tensor
_engine._wrap = _autograd._wrap = _wrap
_autograd.Size = Size
