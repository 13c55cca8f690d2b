"""The op table: each differentiable primitive, its forward and its derivative rules side by side.

An entry reads::

    MUL = defop("MulBackward0", "a b", np.multiply,
                lambda g, b: g * b,          # gradient for a
                lambda g, a: g * a)          # gradient for b

* ``"a b"`` names the tensor inputs; ``attrs="dim keepdim"`` names non-tensor arguments, passed
  to the forward after the arrays.
* The forward computes on NumPy arrays (Python scalars pass through untouched).
* A rule returns the gradient for one input. Its parameters are looked up by name:
  ``g`` the output's gradient, ``out`` the result, ``xp`` the array namespace, an input's name
  (its value), ``<input>_shape`` (only its shape, so no version check) and attribute names.
  ``xp`` is NumPy-like (``NX``) in a plain backward and ndgrad itself (``TX``) when
  ``create_graph=True``: the same rule then records its own graph, which is how every op gets
  derivatives of any order without a second set of rules.
* ``None`` in a rule's place: that input never has a gradient (a number, a condition).
* Rules never see broadcasting, dtypes, accumulation or which inputs need a gradient: the engine
  sums a broadcast gradient back to the input's shape, casts it, and skips unneeded rules.
* ``dtype`` says how the result dtype follows from the inputs: ``"promote"`` (PyTorch's type
  promotion), ``"float"`` (promotion, then integers become the default float), ``"keep"`` (the
  forward decides), ``"bool"`` (comparisons; no gradient).

Only the values a rule names are kept for backward (Chainer's habit), and only when a node is
recorded: grad mode on and some input requiring grad.
"""
from __future__ import annotations

import inspect
import math
import re
import operator
import weakref
from types import SimpleNamespace

import numpy as np

from . import _dtypes
from ._dtypes import FROM_NUMPY, result_type
from . import _kernels
from ._kernels import in_blocks, in_halves, into_blocks
from ._tensor import Tensor, _wrap, _wrap_dim
from .autograd import engine as _engine
from .autograd.engine import ERR_BACKWARD_TWICE, HINT, ZEROS, Node, new_node
from .autograd.grad_mode import state
from .autograd.graph import Packed, hook_state

_ndarray = np.ndarray
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_SCALARS = (Tensor, bool, int, float, complex, np.generic)
_IN, _SHAPE, _OUT = 0, 1, 2


# The caller of every rule that returns the incoming gradient as it is (any one-argument
# function with the bytecode of `lambda g: g`), shared so that the engine can tell it by identity.
_PASS_CODE = (lambda g: g).__code__.co_code
PASS = ((lambda g: g), operator.itemgetter(0), False)
_engine.PASS = PASS


class Op:
    """One table entry; ``node_cls`` is the grad_fn class its nodes get (named like PyTorch's)."""

    def __init__(self, name, inputs, fwd, rules, attrs, dtype, nout):
        self.name = name
        self.inputs = inputs.split()
        self.attrs = attrs.split()
        self.fwd = fwd
        self.dtype = dtype
        self.nout = nout
        self.differentiable = dtype != "bool" and bool(rules)
        self.saves = []  # (kind, input index, name)
        self.rules = []  # (rule, positions in [g, xp, *saved, *attrs])
        for rule in rules:  # None: the input has no gradient (a Python number, a condition)
            spec = None if rule is None else \
                tuple(self._slot(p) for p in inspect.signature(rule).parameters)
            self.rules.append((rule, spec))
        # which saved values each input's rule reads: a value is kept only if an input whose
        # gradient is wanted needs it (so `a * 5` keeps nothing of `a`, as in PyTorch)
        self.rule_saves = [frozenset(k - 2 for k in spec if k >= 2) if spec else frozenset()
                           for _, spec in self.rules]
        # PERF: each rule gets a caller that picks its arguments from the backward environment
        # [g, xp, *saved, *attrs] with one itemgetter, instead of a per-call comprehension.
        self.calls = tuple(None if rule is None else self._caller(rule, spec)
                           for rule, spec in self.rules)
        self.freeable = tuple(j for j, (kind, _, _) in enumerate(self.saves) if kind != _SHAPE)
        self.plans = {}  # input mask -> what to save (see _save_plan)
        self.scalar = None  # the Python operator for two 0-d floats (see `binary`)
        self.check = None  # fn(args) run before promotion, off the hot path (see `_arrays`)
        self.split = None  # the forward on two threads, for large inputs (see `unary`)
        self.attached = None  # see _attach: the name of the node that attaches
        # Forward AD (autograd/forward_ad.py) pushes a tangent through the transpose of the rules;
        # `diagonal` (an op elementwise in its one input, J = J^T) maps it through the rules
        # themselves; `no_jvp` names the ATen op PyTorch's forward AD refuses.
        self.diagonal = False
        self.no_jvp = None
        self.nothing_saved = (None,) * len(self.saves)
        base = TwoEdgeNode if len(self.inputs) == 2 else OpNode
        self.node_cls = type(name, (base,), {"__slots__": (), "op": self, "nout": nout,
                                               "fastop": self if nout == 1 else None,
                                               **_engine.saved_properties(self)})

    def _caller(self, rule, spec):
        """(rule, getter, spread): ``rule(*getter(env))`` if spread else ``rule(getter(env))``."""
        if spec == (0,) and rule.__code__.co_code == _PASS_CODE:
            return PASS  # `lambda g: g` (add, sub, views...): the engine hands g on itself
        idx = tuple(k if k >= 0 else 2 + len(self.saves) + (-1 - k) for k in spec)
        return rule, operator.itemgetter(*idx), len(idx) > 1

    def _slot(self, p: str) -> int:
        if p == "g":
            return 0
        if p == "xp":
            return 1
        if p in self.attrs:
            return -1 - self.attrs.index(p)  # resolved after the saved values
        if p == "out":
            key = (_OUT, 0, "out")
        elif p in self.inputs:
            key = (_IN, self.inputs.index(p), p)
        elif p.endswith("_shape") and p[:-6] in self.inputs:
            key = (_SHAPE, self.inputs.index(p[:-6]), p)
        else:
            raise TypeError(f"{self.name}: a rule names '{p}', which is not an input or attribute")
        if key not in self.saves:
            self.saves.append(key)
        return 2 + self.saves.index(key)

    def __repr__(self):
        return f"<op {self.name}>"


def defop(name, inputs, fwd, *rules, attrs="", dtype="promote", nout=1) -> Op:
    return Op(name, inputs, fwd, rules, attrs, dtype, nout)


def show_edges(op: Op, inputs: tuple | None = None) -> Op:
    """``op``'s nodes list in ``next_functions`` only the edges PyTorch's node has: those of
    ``inputs`` (the positions of PyTorch's tensor arguments: a number it takes as a Scalar has no
    edge), or with None those of the inputs that require grad (PyTorch's NotImplemented nodes
    collect their edges so). The engine still walks every edge."""
    if inputs is None:
        def edges(node):
            return tuple(e for e in Node.next_functions.fget(node) if e[0] is not None)
    else:
        def edges(node):
            shown = Node.next_functions.fget(node)
            return tuple(shown[i] for i in inputs)
    op.node_cls.next_functions = property(edges)
    return op


class _SavedOut:
    """An op's own result, kept without a reference to its tensor (which would make a cycle)."""

    __slots__ = ("arr", "vc", "nr")

    def __init__(self, arr, vc, nr=0):
        self.arr, self.vc, self.nr = arr, vc, nr


_engine.SavedOut = _SavedOut


class OpNode(Node):
    """A node made by a table op: unpacks what it saved and runs the rules that are needed."""

    __slots__ = ("out_metas",)  # (shape, dtype) of each output, kept for ops with several

    def _unpack(self, graph):
        saved = self.saved
        if saved is None:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        versions = self.versions
        if versions is None:
            return saved  # PERF: numbers and shapes only: nothing to check or unwrap
        vals = []
        for v, ver in zip(saved, versions):
            if ver is None:
                vals.append(v)
            elif type(v) is _SavedOut:
                if v.vc[0] != ver:
                    _version_error(_wrap(v.arr), self, v.nr, v.vc[0], ver)
                if graph:
                    t = _wrap(v.arr, self)
                    t._vc, t._output_nr = v.vc, v.nr
                    vals.append(t)
                else:
                    vals.append(v.arr)
            elif type(v) is Packed:
                vals.append(v.unpack(graph, self))
            else:
                if v._vc[0] != ver:
                    _version_error(v, v._grad_fn, v._output_nr, v._vc[0], ver)
                vals.append(v if graph else v._data)
        return vals

    def release(self):
        # Saved inputs and outputs are freed (PyTorch saves a number operand as a tensor too);
        # shapes stay, so a node that kept only shapes (sum, expand) can run again.
        saved = self.saved
        if saved:
            for j in type(self).op.freeable:
                if saved[j] is not None:
                    self.saved = None
                    return

    def apply(self, grads, graph, useful=None):
        op = type(self).op
        if op.nout == 1:
            g = grads[0]
        else:
            # An output nobody used gets a zero gradient, so rules always see a full tuple.
            g = tuple(x if x is not None else
                      (_wrap(np.zeros(*m)) if graph else np.zeros(*m))
                      for x, m in zip(grads, self.out_metas))
        env = [g, TX if graph else NX]
        if op.saves:
            env += self._unpack(graph)
        if self.attrs:
            env += self.attrs
        outs = []
        for e, c in zip(self.next, op.calls):
            if e is None or c is None or (useful is not None and e not in useful):
                outs.append(None)
            else:
                rule, get, spread = c
                r = rule(*get(env)) if spread else rule(get(env))
                outs.append(_attach(r, env, self) if graph else r)
        return outs


def _set_two(node, edges):
    node.e0, node.e1 = edges


class TwoEdgeNode(OpNode):
    """The node of a two-input op (add, mul...), its edges in two slots rather than a tuple:
    ``next`` reads and writes them as one.

    PERF: one object fewer per node for the cyclic GC to track. The scalar MLP's step tracked
    ~100k objects more than its 65k nodes; its forward made 258 young and 2.1 full collections
    a step before, 173 and 1.6 after, and its collector time (interleaved runs) fell from
    265-309 ms to 170-213 ms a step.
    The price is ~700 instructions each time the engine reads ``next`` (twice a node): +8% on
    the backward of the 1,000-op chain. One-input nodes keep their tuple: their property, a
    Python function, cost more than the tuple saved."""

    __slots__ = ("e0", "e1")
    next = property(operator.attrgetter("e0", "e1"), _set_two)  # Node's `next` slot stays empty


# NOTE: PyTorch drops "Backward0" whole but keeps other numbers: PowBackward1 is "Pow1".
_BACKWARD_SUFFIX = r"Backward(s|0)?(?=\d*$)"
HINT_ANOMALY = ("Hint: the backtrace further above shows the operation that failed to compute its "
                "gradient. The variable in question was changed in there or anywhere later. Good "
                "luck!")


def _version_error(t, fn, nr, current, expected):
    # NOTE: PyTorch names the forward op here: "output 0 of Exp" for ExpBackward0.
    which = ""
    if fn is REBASED:
        fn = t._sync_grad_fn()  # PyTorch names the view's grad_fn as reading it now makes it
    if fn is not None:
        which = f", which is output {nr} of {re.sub(_BACKWARD_SUFFIX, '', fn.name())},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [torch.{t.dtype._legacy}Tensor {list(t._data.shape)}]{which} is at version "
        f"{current}; expected version {expected} instead. " +
        (HINT_ANOMALY if hook_state.anomaly else HINT))


# ---------------------------------------------------------------------------------------------
# Applying ops: the hot path
# ---------------------------------------------------------------------------------------------

# Optional features hook in here; each is None while off, so it costs one global check.
_ON_RECORD = None  # fn(node, out): saved-tensor hooks, anomaly mode (autograd/graph.py)
_FWD = None  # forward-mode AD while a dual tensor exists (autograd/forward_ad.py)
_VMAP = None  # batching rules while a vmap is active (_vmap.py)


def _edge(t):
    """The graph edge a tensor contributes as an input: its grad_fn, its leaf, or None."""
    fn = t._grad_fn
    if fn is None:
        return (t, 0) if t._requires_grad else None
    if t._base is not None and t._view_ver != t._vc[0]:
        fn = t._sync_grad_fn()
    return (fn, t._output_nr)


def _record(op, out, args, arrays, attrs):
    """Attach a node to ``out``: edges to the inputs, and the values the rules named."""
    targets = []
    nrs = None  # stays None while every input is output 0 of its node (nearly always)
    metas = []
    mask = 0  # bit k set: input k gets an edge (its gradient is wanted)
    bit = 1
    for a in args:
        if isinstance(a, Tensor):
            fn = a._grad_fn
            if fn is not None:
                if a._base is not None and a._view_ver != a._vc[0]:
                    fn = a._sync_grad_fn()
                targets.append(fn)
                if a._output_nr:
                    if nrs is None:
                        nrs = [0] * len(args)
                    nrs[len(targets) - 1] = a._output_nr
                d = a._data
                metas.append((d.shape, d.dtype))
                mask |= bit
                bit <<= 1
                continue
            if a._requires_grad:
                targets.append(a)
                d = a._data
                metas.append((d.shape, d.dtype))
                mask |= bit
                bit <<= 1
                continue
        targets.append(None)
        metas.append(None)
        bit <<= 1
    # PERF: the node is built here rather than by engine.new_node (one call less per op).
    cls = op.node_cls
    out._grad_fn = node = _new(cls)
    node.next = tuple(targets)
    node.nrs = ZEROS[len(targets)] if nrs is None else tuple(nrs)
    metas = tuple(metas)
    node.metas = _METAS_N.get(metas) or _share(_METAS_N, metas, metas)
    node.attrs = attrs
    if op.saves:
        plan = op.plans.get(mask, False)
        if plan is False:
            plan = _save_plan(op, mask)
        if plan is not None:
            _save(node, plan, len(op.saves), out, args, arrays)
        else:
            node.saved, node.versions = op.nothing_saved, None
    else:
        node.saved, node.versions = (), None
    if _ON_RECORD is not None:
        _ON_RECORD(node, out)


_new = object.__new__


def _record_unary(op, out, a, x):
    """``_record`` for one input that requires grad (the unary hot path), with the loop, the
    mask and the lists taken out."""
    fn = a._grad_fn
    if fn is None:
        nrs = ZEROS[1]
        fn = a
    else:
        if a._base is not None and a._view_ver != a._vc[0]:
            fn = a._sync_grad_fn()
        nr = a._output_nr
        nrs = (nr,) if nr else ZEROS[1]
    out._grad_fn = node = _new(op.node_cls)
    node.next = (fn,)
    node.nrs = nrs
    key = (x.shape, x.dtype)
    node.metas = _METAS.get(key) or _share_metas(key, 1)
    node.attrs = ()
    if op.saves:
        plan = op.plans.get(1, False)
        if plan is False:
            plan = _save_plan(op, 1)
        if plan is None:
            node.saved, node.versions = op.nothing_saved, None
        elif plan[0] is _ONLY_INPUT:
            # PERF: `_save` inlined for one saved input (sin, log...) or the result (exp,
            # tanh...): `y.sin()` 17.7k -> 15.8k; `y.exp()` 19.5k -> 17.1k instructions
            v = a._vc[0]
            node.saved = (a,)
            node.versions = (v,) if v else _UNCHANGED1[0]
        elif plan[0] is _ONLY_RESULT:
            kept = _new(_SavedOut)
            kept.arr, kept.vc, kept.nr = out._data, out._vc, 0
            node.saved = (kept,)
            node.versions = _UNCHANGED1[0]  # the result was just made: version 0
        else:
            _save(node, plan, len(op.saves), out, (a,), (x,))
    else:
        node.saved, node.versions = (), None
    if _ON_RECORD is not None:
        _ON_RECORD(node, out)


# PERF: nodes share their ``metas`` tuples: one per combination of input shapes and dtypes,
# instead of three new tuples per binary node. The scalar MLP's graph (65k nodes) made ~500
# young collections and 4 full ones per step before, ~270 and 2-3 after (with the shared
# versions below); its step's collector time fell 0.47 -> 0.23 s. The engine reads the metas
# of inputs with an edge only, so an input with none may have None (a binary op's second input
# with no gradient, any such input of `_record`'s ops) or its real meta.
_METAS = {}  # (shape, dtype[, shape, dtype]) of a unary or binary op's inputs -> their metas
_METAS_N = {}  # the metas of `_record`'s ops (None for an input with no gradient) -> themselves
_METAS_NO_B = {}  # (shape, dtype) of a binary op's first input, when its second needs no gradient
# The metas of a binary op on two 0-d inputs of one float dtype: with and without b's
_METAS_0D_F32, _METAS_0D_F64 = (
    ((((), d), ((), d)), (((), d), None)) for d in (_F32, _F64))


def _share(cache, key, metas):
    if len(cache) > 4096:  # shapes that keep changing must not grow a cache without end
        cache.clear()
    cache[key] = metas
    return metas


def _share_metas(key, n):
    return _share(_METAS, key, tuple(zip(key[::2], key[1::2])) if n > 1 else (key,))


def _record_binary(op, out, a, b, x, y, metas=None):
    """``_record`` for ``a (op) b``, ``b`` a tensor or a number (``y`` its array): the binary
    hot path, unrolled. ``metas``, when the caller knows the inputs' shapes and dtypes, is the
    pair of `_METAS_0D_F32` or `_METAS_0D_F64` that fits them.

    PERF: the two inputs' blocks repeat on purpose: a helper per input, or `_record`'s loop,
    costs a call each; a multiply's forward went 25.7k -> 21.8k instructions."""
    fa = a._grad_fn
    if fa is not None:
        if a._base is not None and a._view_ver != a._vc[0]:
            fa = a._sync_grad_fn()
        na = a._output_nr
    elif a._requires_grad:
        fa, na = a, 0
    else:
        na = None
    fb = nb = None
    tb = type(b)
    if tb is Tensor:
        fb = b._grad_fn
        if fb is not None:
            if b._base is not None and b._view_ver != b._vc[0]:
                fb = b._sync_grad_fn()
            nb = b._output_nr
        elif b._requires_grad:
            fb, nb = b, 0
    out._grad_fn = node = _new(op.node_cls)
    node.e0 = fa
    node.e1 = fb
    node.nrs = (na or 0, nb or 0) if na or nb else ZEROS[2]
    if metas is not None:
        # PERF: no key to build: reading .shape and .dtype four times and hashing the dtypes
        # cost ~2.6k instructions of a 0-d multiply's 17.9k
        node.metas = metas[0] if fb is not None else metas[1]
    elif fb is not None:
        key = (x.shape, x.dtype, y.shape, y.dtype)
        node.metas = _METAS.get(key) or _share_metas(key, 2)
    else:
        # PERF: an input with no gradient (a number, mostly) needs no meta, so the key is the
        # first input's alone: `y * 1.001`, 21.3k -> 20.5k instructions
        key = (x.shape, x.dtype)
        node.metas = _METAS_NO_B.get(key) or _share(_METAS_NO_B, key, (key, None))
    node.attrs = ()
    if op.saves:
        mask = (fa is not None) | (fb is not None) << 1
        plan = op.plans.get(mask, False)
        if plan is False:
            plan = _save_plan(op, mask)
        if plan is None:
            node.saved, node.versions = op.nothing_saved, None
        elif tb is not Tensor and (plan[0] is _B_FIRST or plan[0] is _B_SECOND):
            # PERF: `_save` inlined for `tensor (op) number` keeping the number (mul, div):
            # nothing to check later. `y * 1.001`, 20.5k -> 17.2k instructions
            node.saved = (b, None) if plan[0] is _B_FIRST else (None, b)
            node.versions = None
        elif tb is Tensor and (plan[0] is _BA or plan[0] is _AB):
            # PERF: both tensors kept (a product of two tensors): `y0 * w0`, 20.2k -> 18.1k
            va, vb = a._vc[0], b._vc[0]
            if plan[0] is _BA:
                node.saved = (b, a)
                node.versions = (vb, va) if va or vb else _UNCHANGED2[0]
            else:
                node.saved = (a, b)
                node.versions = (va, vb) if va or vb else _UNCHANGED2[0]
        else:
            _save(node, plan, len(op.saves), out, (a, b), (x, y))
    else:
        node.saved, node.versions = (), None
    if _ON_RECORD is not None:
        _ON_RECORD(node, out)


def _save_plan(op, mask):
    """Which saved values the rules of the inputs in ``mask`` read (cached per op and mask): a
    pair ``(picks, plan)``. ``plan`` lists ``(slot, kind, input)``; ``picks`` is set when every
    kept value is an input and there are at most two slots: the input index per slot (-1: kept
    empty), which `_save` fills without a loop."""
    wanted = set()
    for k, keys in enumerate(op.rule_saves):
        if mask >> k & 1:
            wanted |= keys
    plan = tuple((j, kind, i) for j, (kind, i, _) in enumerate(op.saves) if j in wanted)
    picks = None
    if plan and len(op.saves) <= 2 and all(kind != _SHAPE for _, kind, _ in plan):
        picks = [_EMPTY] * len(op.saves)
        for j, kind, i in plan:
            picks[j] = i if kind == _IN else _RESULT
        picks = tuple(picks)
        picks = _SHARED_PICKS.get(picks, picks)  # the hot paths test these by identity
    op.plans[mask] = plan = (picks, plan) if plan else None
    return plan


_EMPTY, _RESULT = -1, -2  # in a plan's picks: a slot kept empty, the op's own result
# picks the hot paths test by identity: the one input, the result, b alone in slot 0 or 1
_ONLY_INPUT, _ONLY_RESULT, _B_FIRST, _B_SECOND = (0,), (_RESULT,), (1, _EMPTY), (_EMPTY, 1)
_BA, _AB = (1, 0), (0, 1)  # both inputs kept, in either order
_SHARED_PICKS = {p: p for p in (_ONLY_INPUT, _ONLY_RESULT, _B_FIRST, _B_SECOND, _BA, _AB)}
# PERF: the versions of values saved before any in-place change, shared (by which slots hold
# numbers: None) rather than a new tuple per node; see _METAS.
_UNCHANGED1 = ((0,), None)
_UNCHANGED2 = ((0, 0), (0, None), (None, 0), None)


def _save(node, plan, n, out, args, arrays):
    """Keep on ``node`` the values in ``plan``, with the versions to check them against; numbers
    and shapes need no check, and a node that saved only those gets ``versions = None``."""
    picks, plan = plan
    if picks is not None:
        # PERF: inputs and the result only, one or two slots (mul, div, pow, exp, relu...): no
        # loop and no lists. A multiply's record: 25.7k -> 22.0k instructions.
        i = picks[0]
        if i >= 0:
            a = args[i]
            va = a._vc[0] if isinstance(a, Tensor) else None
        else:
            a, va = _pick(i, out)
        if n == 1:
            node.saved = (a,)
            node.versions = (va,) if va else _UNCHANGED1[va is None]
            return
        i = picks[1]
        if i >= 0:
            b = args[i]
            vb = b._vc[0] if isinstance(b, Tensor) else None
        else:
            b, vb = _pick(i, out)
        node.saved = (a, b)
        node.versions = (va, vb) if va or vb else _UNCHANGED2[(va is None) << 1 | (vb is None)]
        return
    saved = [None] * n
    versions = None
    for j, kind, i in plan:
        if kind == _IN:
            a = args[i]
            saved[j] = a
            if isinstance(a, Tensor):
                if versions is None:
                    versions = [None] * n
                versions[j] = a._vc[0]
        elif kind == _SHAPE:
            saved[j] = np.shape(arrays[i])
        else:
            vc = out._vc
            saved[j] = _SavedOut(out._data, vc)
            if versions is None:
                versions = [None] * n
            versions[j] = vc[0]
    node.saved = tuple(saved)
    node.versions = None if versions is None else tuple(versions)


def _pick(i, out):
    """A picks slot that is not an input: (the value kept, the version to check it against)."""
    if i == _EMPTY:
        return None, None
    vc = out._vc
    kept = _new(_SavedOut)  # PERF: no __init__ call
    kept.arr, kept.vc, kept.nr = out._data, vc, 0
    return kept, vc[0]


def _requires_grad(args) -> bool:
    for a in args:
        if isinstance(a, Tensor) and (a._grad_fn is not None or a._requires_grad):
            return True
    return False


def _arrays(op, args):
    """The NumPy operands for ``args``, cast to the dtype PyTorch's promotion picks."""
    if op.check is not None:
        op.check(args)
    dims, zeros, scalars = [], [], []
    for a in args:
        if isinstance(a, Tensor):
            (dims if a._data.ndim else zeros).append(FROM_NUMPY[a._data.dtype])
        elif a is not None:
            scalars.append(a)
    if op.dtype == "keep":
        return [a._data if isinstance(a, Tensor) else a for a in args], None
    rt = result_type(dims, zeros, scalars)
    if op.dtype == "float" and rt.np.kind not in "fc":
        rt = _dtypes.get_default_dtype()
    target = rt.np
    out = []
    for a in args:
        if isinstance(a, Tensor):
            x = a._data
            out.append(x if x.dtype == target else x.astype(target))
        elif isinstance(a, (bool, int, float, complex)) and op.dtype != "bool":
            out.append(_scalar_for(a, target))
        else:
            out.append(a)
    return out, (np.dtype(bool) if op.dtype == "bool" else target)


def _scalar_for(v, target):
    """A Python scalar as the computation dtype sees it (NumPy's weak scalars, with PyTorch's
    promotion already applied to the tensor side)."""
    if target.kind in "fc" or isinstance(v, bool) or target.kind == "b":
        return v
    if isinstance(v, int):
        return v
    return target.type(v)


def apply(op: Op, *args, attrs=()):
    """Run ``op`` on tensors (and Python scalars); record a node if a gradient is wanted."""
    if _VMAP is not None:
        return _VMAP.dispatch(op, args, attrs)
    if len(args) == 1 and type(args[0]) is Tensor and args[0]._data.dtype.kind == "f" \
            and op.dtype != "bool":
        # PERF: one floating tensor needs no promotion: skips `_arrays` (~40% of a unary op)
        x = args[0]._data
        arrays, target = [x], (None if op.dtype == "keep" else x.dtype)
    else:
        arrays, target = _arrays(op, args)
    try:
        out = op.fwd(*arrays, *attrs)
    except ValueError as exc:
        _raise_broadcast(arrays, exc)
    return _finish(op, out, target, args, arrays, attrs)


def _finish(op, out, target, args, arrays, attrs):
    if op.nout != 1:
        outs = [_wrap(o if type(o) is _ndarray else np.asarray(o)) for o in out]
        if state.enabled and op.differentiable and _requires_grad(args):
            _record(op, outs[0], args, arrays, attrs)
            node = outs[0]._grad_fn
            node.out_metas = tuple((t._data.shape, t._data.dtype) for t in outs)
            for i, t in enumerate(outs):
                if t._data.dtype.kind in "fc":
                    t._grad_fn, t._output_nr = node, i
        if _FWD is not None:
            _FWD.op(op, outs, args, arrays, attrs)
        return tuple(outs)
    if type(out) is not _ndarray:
        out = np.asarray(out)
    if target is not None and out.dtype != target:
        out = out.astype(target)
    t = _wrap(out)
    # NOTE: only floating and complex results take part in autograd, as in PyTorch: `x.long()`
    # or `x.bool()` of a tensor that requires grad is a plain tensor.
    if state.enabled and op.differentiable and out.dtype.kind in "fc" and _requires_grad(args):
        _record(op, t, args, arrays, attrs)
    if _FWD is not None:
        _FWD.op(op, t, args, arrays, attrs)
    return t


def unary(op: Op, a: Tensor):
    """The hot path for a one-input op on a floating tensor (exp, sin, relu...)."""
    x = a._data
    if _VMAP is not None or type(a) is not Tensor or x.dtype.kind != "f":
        return apply(op, a)
    split = op.split
    out = op.fwd(x) if split is None or x.size < _kernels.SPLIT_MIN else split(x)
    if type(out) is not _ndarray:
        out = np.asarray(out)
    if out.dtype is not x.dtype and op.dtype != "keep":
        out = out.astype(x.dtype)
    t = _new(Tensor)  # PERF: _wrap inlined (one call less per op, ~1k instructions)
    t._data, t._grad_fn, t._vc = out, None, [0]
    if state.enabled and (a._grad_fn is not None or a._requires_grad):
        _record_unary(op, t, a, x)
    if _FWD is not None:
        _FWD.op(op, t, (a,), (x,), ())
    return t


_NUMBERS = {}  # dtype -> {number: a read-only 0-d array of that dtype}
_N32 = _NUMBERS[_F32] = {}  # PERF: binary reads these two without hashing a dtype
_N64 = _NUMBERS[_F64] = {}


def _number_array(v, dtype):
    """A Python number as the 0-d array NumPy would turn it into against a ``dtype`` array.

    PERF: NumPy converts a Python number anew on every call (~0.4 us of a 0.9 us multiply on a
    small float32 array); the loops learners write reuse the same few constants, so the
    converted arrays are kept. Zero is left out (0.0 == -0.0 would share a key), and so are
    numbers the dtype cannot hold, and half precision (kept as NumPy converts it each time).
    An int and the float equal to it share an entry: both convert to the same value.
    """
    cache = _NUMBERS.get(dtype)
    if cache is None:
        cache = _NUMBERS[dtype] = {}
    arr = cache.get(v)
    if arr is None:
        if v == 0 or not -1e30 < v < 1e30 or dtype.itemsize < 4:
            return v
        if len(cache) >= 512:
            cache.clear()
        arr = cache[v] = np.array(v, dtype)
        arr.flags.writeable = False
    return arr


def binary(op: Op, a: Tensor, b):
    """The hot path for ``a (op) b``: same-dtype tensors, or a float tensor and a Python number."""
    if _VMAP is not None:
        return apply(op, a, b)
    x = a._data
    dt = x.dtype
    tb = type(b)
    if tb is Tensor:
        y = b._data
        if dt is not y.dtype:
            return apply(op, a, b)
    elif (tb is float or tb is int) and (dt is _F32 or dt is _F64 or dt.kind == "f"):
        # NumPy keeps a float array's dtype against a Python number (NEP 50), so no promotion.
        # PERF: the number's cached array looked up here: `y * 1.001`, 22.6k -> 21.3k instructions
        y = _N32.get(b) if dt is _F32 else _N64.get(b) if dt is _F64 else None
        if y is None:
            y = _number_array(b, dt)
    elif isinstance(b, _SCALARS):
        return apply(op, a, b)
    else:
        return NotImplemented
    if op.scalar is not None and not x.ndim and type(y) is _ndarray and not y.ndim and (
            dt is _F32 or dt is _F64):
        # PERF: two 0-d floats (scalar graphs) through NumPy's scalar arithmetic, which gives
        # the same IEEE results as the ufunc: a 0-d multiply 21.6k -> 20.3k instructions.
        out = np.asarray(op.scalar(x[()], y[()]))
        metas = _METAS_0D_F32 if dt is _F32 else _METAS_0D_F64
    else:
        metas = None
        try:
            out = op.fwd(x, y)
        except ValueError as exc:
            _raise_broadcast((x, y), exc)
        except TypeError:
            return apply(op, a, b)  # e.g. bool - bool: the general path has PyTorch's error
        if type(out) is not _ndarray:
            out = np.asarray(out)
    t = _new(Tensor)  # PERF: _wrap inlined (one call less per op, ~1k instructions)
    t._data, t._grad_fn, t._vc = out, None, [0]
    if state.enabled and (a._grad_fn is not None or a._requires_grad or (
            tb is Tensor and (b._grad_fn is not None or b._requires_grad))):
        _record_binary(op, t, a, b, x, y, metas)
    if _FWD is not None:
        _FWD.op(op, t, (a, b), (x, y), ())
    return t


def rbinary(op: Op, a: Tensor, b):
    """``b (op) a`` for a Python number ``b``: the reflected operators."""
    if not isinstance(b, (bool, int, float, complex, Tensor)):
        return NotImplemented
    return apply(op, b, a)


def _raise_broadcast(arrays, exc):
    shapes = [np.shape(x) for x in arrays if isinstance(x, _ndarray)]
    if len(shapes) >= 2:
        sa, sb = shapes[0], shapes[1]
        n = max(len(sa), len(sb))
        pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                    f"non-singleton dimension {i}") from None
    raise exc


# ---------------------------------------------------------------------------------------------
# In-place ops and views
# ---------------------------------------------------------------------------------------------

def check_inplace(t: Tensor) -> None:
    """PyTorch refuses to modify, with grad mode on, a leaf that requires grad or a view of one."""
    if state.enabled:
        base = t._base
        if base is not None:
            fn = t._grad_fn
            if fn is not None or base._grad_fn is not None or base._requires_grad:
                check_view_rebase(t, "is being")
            if base._grad_fn is None and base._requires_grad:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                                   "an in-place operation.")
            if fn is REBASED:
                # NOTE: PyTorch's check reads the grad_fn the view had before its base got a
                # history (none), as if it were a leaf, until something reads its new one.
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
        elif t._grad_fn is None and t._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")


def inplace(op: Op, self: Tensor, *others, attrs=()):
    """Run ``op`` out of place, write the result into ``self`` and rebase ``self``'s history."""
    if _VMAP is not None:
        return _VMAP.inplace(op, self, others, attrs)
    a = self._data
    if len(others) == 1 and _FWD is None and type(op.fwd) is np.ufunc and (
            not state.enabled or not (_requires_grad((self,) + others))) and self._base is None:
        # PERF: `x -= lr * x.grad` under no_grad: one ufunc writing into x, no node, no promotion
        # bookkeeping when the operand already has x's dtype (or is a number and x is float).
        b = others[0]
        tb = type(b)
        y = b._data if tb is Tensor else b
        if a.dtype.kind == "f" and ((tb is Tensor and y.dtype is a.dtype) or tb is float or tb is int):
            try:
                op.fwd(a, y, out=a)
            except ValueError:
                pass  # not broadcastable to self: the general path raises PyTorch's error
            else:
                self._vc[0] += 1
                return self
    if self._base is not None and 0 in a.strides and op not in (ZERO, FILL, FILL_TENSOR) and any(
            st == 0 and n > 1 for st, n in zip(a.strides, a.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before "
                           "performing the operation.")
    check_inplace(self)
    args = (self,) + others
    arrays, target = _arrays(op, args)
    want = FROM_NUMPY[self._data.dtype]
    if target is not None:
        have = FROM_NUMPY[target]
        if _dtypes.category(have) > _dtypes.category(want):
            raise RuntimeError(f"result type {have._legacy} can't be cast to the desired output "
                               f"type {want._legacy}")
    try:
        out = op.fwd(*arrays, *attrs)
    except ValueError as exc:
        _raise_broadcast(arrays, exc)
    out = np.asarray(out)
    if out.shape != self._data.shape:
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the "
                           f"broadcast shape {list(np.broadcast_shapes(out.shape, self._data.shape))}")
    record = state.enabled and op.differentiable and _requires_grad(args)
    if record and self._grad_fn is None and self._base is not None:
        check_view_rebase(self, "is being")
    exact = self._base is None or not (record or _FWD is not None) or view_fn_now(self)
    if not exact and _FWD is not None:
        raise RuntimeError(ERR_RESTRIDED)
    if record:
        edge0 = _edge(self)
        standin = self
        if any(k == _IN and i == 0 for k, i, _ in op.saves):
            # NOTE: the rules may need self's old value, which the write below destroys.
            standin = _wrap(self._data.copy(), self._grad_fn)
            standin._output_nr, standin._requires_grad = self._output_nr, self._requires_grad
    if _FWD is not None:
        _FWD.inplace(op, self, args, arrays, attrs, out)
    np.copyto(self._data, out, casting="unsafe")
    self._vc[0] += 1
    if not record:
        return self
    probe = _wrap(self._data)
    probe._vc = self._vc
    _record(op, probe, (standin,) + others, arrays, attrs)
    node = probe._grad_fn
    node.next = (None if edge0 is None else edge0[0],) + node.next[1:]
    node.nrs = (0 if edge0 is None else edge0[1],) + node.nrs[1:]
    node.metas = ((self._data.shape, self._data.dtype),) + node.metas[1:]
    base = self._base
    if base is None:
        self._grad_fn, self._output_nr = node, 0
        _rebase_views(self)
        return self
    # An in-place change through a view rewrites the base's history (PyTorch's CopySlices).
    cs = new_node(CopySlices, (_edge(base),) + tuple(zip(node.next[1:], node.nrs[1:])), (), None, (),
                  ((base._data.shape, base._data.dtype),) + node.metas[1:])
    cs.fn, cs.view_fn = node, self._view_fn if exact else _positions(self)
    base._grad_fn, base._output_nr = cs, 0
    _rebase_views(base)
    # NOTE: recording above may have refreshed the view's grad_fn from the base's old history
    # (when the op saved nothing of self); it must regenerate from the CopySlices on next use.
    self._view_ver = -1
    if self._grad_fn is REBASED:
        regenerate_view(self)  # as PyTorch does for the view written through, at once
    return self


def _put(region: Tensor, shape: tuple, where) -> Tensor:
    """``region`` placed into zeros of ``shape`` where a view function (or an array of flat
    positions) points: the differentiable inverse of cutting the view."""
    if type(where) is _ndarray:
        return TX.reshape(TX.index_acc(region, (math.prod(shape),), where), shape)
    return view_scatter(region, shape, where)


class CopySlices(Node):
    """The base's new grad_fn after an in-place op on one of its views."""

    __slots__ = ("fn", "view_fn")

    def name(self) -> str:
        return "torch::autograd::CopySlices"

    def apply(self, grads, graph, useful=None):
        g = grads[0]
        fn = self.fn
        vshape, vdtype = fn.metas[0]
        if useful is not None and fn.next[0] is not None:
            # NOTE: fn's first edge leads to the view's old grad_fn, which is outside the graph
            # being walked; the base's gradient needs that input's gradient all the same.
            useful = useful | {fn.next[0]}
        # NOTE: an array in place of view_fn holds the view's flat positions (_positions).
        where = self.view_fn
        pos = where if type(where) is _ndarray else None
        if graph:
            region = where(g) if pos is None else apply(AS_STRIDED_GATHER, g, attrs=(pos,))
            res = fn.apply([region], graph, useful)
            keep = g - _put(region, g.shape, where)
            r0 = res[0]
            base_grad = keep if r0 is None else keep + _put(
                sum_to_shape(r0, vshape, True).to(FROM_NUMPY[vdtype]), g.shape, where)
        else:
            base_grad = np.array(g, copy=True, order="C" if pos is not None else "K")
            region = where(base_grad) if pos is None else base_grad.reshape(-1)[pos]
            res = fn.apply([region.copy()], graph, useful)
            r0 = res[0]
            value = 0 if r0 is None else sum_to_shape(r0, vshape, False)
            if pos is None:
                region[...] = value
            else:
                base_grad.reshape(-1)[pos] = value
        return [base_grad] + list(res[1:])

    def release(self):
        self.fn.release()

    @property
    def next_functions(self):
        return Node.next_functions.fget(self)


def make_view(base: Tensor, arr: np.ndarray, view_fn) -> Tensor:
    """A tensor that shares ``base``'s storage and version counter and knows how it was cut."""
    if _VMAP is not None and type(base) is _VMAP.BatchedTensor:
        return _VMAP.make_view(base, arr, view_fn)
    t = _wrap(arr)
    t._vc = base._vc
    root = base._base
    if root is None:
        t._base, t._view_fn = base, view_fn
        n = base.__dict__.get("_restrided")
        if n:
            t._layout = n
    else:
        inner = base._view_fn
        t._base, t._view_fn = root, (lambda x: view_fn(inner(x)))
        d = base.__dict__
        layout = d.get("_layout")
        if layout is not None:
            t._layout = layout  # `inner` still expects the root's layout when `base` was cut
        if d.get("_view_exact") is False:
            t._view_exact = False  # `inner` copies: writes through `t` must go by position
    t._view_ver = base._vc[0]
    if not state.enabled:
        t._no_grad_view = True
        _keep_view(t)
    elif t._base._grad_fn is None and not t._base._requires_grad:
        _keep_view(t)
    if _FWD is not None:
        _FWD.view(base, t, view_fn)
    return t


class _Rebased(Node):
    """The grad_fn of a view that had none when its base got a history (see _rebase_views)."""

    __slots__ = ()


# NOTE: a view cut from a tensor without history (or in no_grad mode) gets no grad_fn, and the
# hot path looks no further than a tensor's grad_fn to decide whether it requires grad. Its base
# keeps weak references to such views; when an in-place op gives the base a history, each gets
# REBASED as its grad_fn and a stale version, so its real grad_fn is made on first use
# (regenerate_view), as PyTorch makes it when it is read.
REBASED = _Rebased.__new__(_Rebased)
_VIEWS_KEPT = 64  # dead references are swept when the list reaches twice the live ones, or this


def _keep_view(t: Tensor) -> None:
    d = t._base.__dict__
    views = d.get("_plain_views")
    if views is None:
        views = d["_plain_views"] = []
    views.append(weakref.ref(t))
    if len(views) >= d.get("_plain_sweep", _VIEWS_KEPT):
        views[:] = [r for r in views if r() is not None]
        d["_plain_sweep"] = max(_VIEWS_KEPT, 2 * len(views))


def _rebase_views(root: Tensor) -> None:
    """``root`` just got a history: the views kept by _keep_view now require grad through it."""
    views = root.__dict__.pop("_plain_views", None)
    if views:
        for r in views:
            v = r()
            if v is not None and v._grad_fn is None:
                v._grad_fn, v._view_ver = REBASED, -1


class _Unreached(Node):
    """The grad_fn of a view cut before its base came to require grad (see mark_views)."""

    __slots__ = ()


# NOTE: PyTorch's view cut from a tensor that did not require grad then requires grad with its
# base, yet keeps no grad_fn and no edge to it: what flows through it is dropped, until the base
# changes in place and the view's grad_fn is regenerated. Such a view holds UNREACHED, which the
# hot path sees as requiring grad, and a stale version, so that each use asks _sync_grad_fn for
# its edge: None while its version is the one it was cut at (kept as `_cut_at`).
UNREACHED = _Unreached.__new__(_Unreached)


def mark_views(root: Tensor, requires_grad: bool) -> None:
    """``root``'s requires_grad flag changed: the views kept by _keep_view follow it."""
    for r in root.__dict__.get("_plain_views", ()):
        v = r()
        if v is None:
            continue
        if requires_grad and v._grad_fn is None and not v._requires_grad:
            v._grad_fn, v._cut_at, v._view_ver = UNREACHED, v._view_ver, -1
        elif not requires_grad and v._grad_fn is UNREACHED:
            v._grad_fn, v._view_ver = None, v.__dict__.pop("_cut_at")


def check_view_rebase(t: Tensor, modified: str) -> None:
    """PyTorch's refusal to rebase the history of a view made in no_grad mode or by a function
    that returns several views (split, unbind...), when it or its base is modified in place."""
    d = t.__dict__
    no_grad, kind = d.get("_no_grad_view"), d.get("_multi_view")
    if not no_grad and kind is None:
        return
    fn = t._grad_fn
    if fn is None or fn is REBASED or fn is UNREACHED:
        msg = (f"A view was created in no_grad mode and {modified} modified inplace with grad "
               "mode enabled.")
    else:
        msg = f"Output {t._output_nr} of {kind} is a view and {modified} modified inplace."
    if no_grad:
        msg += (" Given that this use case is ambiguous and error-prone, it is forbidden. You can "
                "clarify your code by moving both the view and the inplace either both inside the "
                "no_grad block (if you don't want the inplace to be tracked) or both outside (if "
                "you want the inplace to be tracked).")
    else:
        msg += (" This view is the output of a function that returns multiple views. Such "
                "functions do not allow the output views to be modified inplace. You should "
                "replace the inplace operation by an out-of-place one.")
    raise RuntimeError(msg)


ERR_RESTRIDED = (
    "A view of this tensor was made before the tensor was reshaped in place (t_, transpose_, "
    "squeeze_, unsqueeze_...), and this view cannot be written through in the new layout: "
    "modifying it in place while forward-mode AD is active is not supported. Reshape out of "
    "place (y = y.t()) or clone() the view before modifying it inplace.")
_RESTRIDES_KEPT = 64
ERR_RESTRIDED_OLD = (
    f"A view of this tensor was made before the tensor was reshaped in place (t_, transpose_, "
    f"squeeze_, unsqueeze_...) more than {_RESTRIDES_KEPT} times, and this view can no longer "
    "be related to its base's layout. Reshape out of place (y = y.t()) or clone() the view "
    "before the base is reshaped in place.")


def note_restride(base: Tensor, undo) -> None:
    """Record that ``base`` (not a view) was reshaped in place; ``undo`` maps its new layout back
    to the old one, for the views cut before (see view_fn_now)."""
    d = base.__dict__
    steps = d.get("_restrides")
    if steps is None:
        steps = d["_restrides"] = []
    steps.append(undo)
    # NOTE: only the latest steps are kept, so a loop of t_() on one tensor holds bounded memory;
    # a view older than all of them raises ERR_RESTRIDED_OLD instead of giving a wrong gradient.
    if len(steps) > _RESTRIDES_KEPT:
        del steps[0]
    d["_restrided"] = d.get("_restrided", 0) + 1


def _positions(t: Tensor) -> np.ndarray:
    """The flat positions in its base of a view's elements, in the view's shape."""
    shape = t._base._data.shape
    return t._view_fn(np.arange(math.prod(shape)).reshape(shape))


def view_fn_now(t: Tensor) -> bool:
    """Bring ``t._view_fn`` up to date with the in-place reshapes (t_, squeeze_...) its base had
    since ``t`` was cut; say whether, on an array, it still returns a view (False: a copy, as a
    reshape of a base transposed in place gives, which can be read but not written through)."""
    bd = t._base.__dict__
    n = bd.get("_restrided")
    d = t.__dict__
    if not n:
        return d.get("_view_exact", True)
    layout = d.get("_layout", 0)
    if layout != n:
        undo = bd["_restrides"]
        first = n - len(undo)
        if layout < first:
            raise RuntimeError(ERR_RESTRIDED_OLD)
        # NOTE: PyTorch recomputes such views from storage offsets (as_strided); here the base's
        # new layout is first undone, step by step, back to the one the view was cut from.
        steps, old = undo[layout - first:][::-1], t._view_fn

        def fn(x):
            for step in steps:
                x = step(x)
            return old(x)
        base = t._base._data
        probe = np.empty(base.shape, base.dtype)
        r = fn(probe)
        t._view_fn, t._layout = fn, n
        t._view_exact = r.size == 0 or np.may_share_memory(r, probe)
    return d.get("_view_exact", True)


def regenerate_view(t: Tensor) -> None:
    """After its base changed in place, a view's gradient flows through the base's new history."""
    base = t._base
    check_view_rebase(t, "its base or another view of its base has been")
    t._view_ver = t._vc[0]
    e = _edge(base)
    if e is None:
        t._grad_fn = None
        return
    shape = base._data.shape
    if view_fn_now(t):
        op, attr = AS_STRIDED, t._view_fn
    else:
        op, attr = AS_STRIDED_GATHER, _positions(t)
    t._grad_fn = new_node(op.node_cls, (e,), (shape,), (None,), (attr,),
                          ((shape, base._data.dtype),))
    t._output_nr = 0


def _scatter_fwd(g, shape, view_fn):
    z = np.zeros(shape, g.dtype)
    view_fn(z)[...] = g
    return z


def _basic_index(idx):
    """A basic index (ints, slices, None, ...) ending in Ellipsis, so NumPy returns a view even
    when every dimension is indexed by an integer."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    return idx if any(i is Ellipsis for i in idx) else idx + (Ellipsis,)


# ---------------------------------------------------------------------------------------------
# Helpers the rules use, in both namespaces
# ---------------------------------------------------------------------------------------------

def sum_to_shape(g, shape, graph):
    """Sum ``g`` over the dimensions broadcasting added or stretched, down to ``shape``."""
    gshape = g.shape
    # PERF: the axes of each (from, to) pair of shapes are worked out once: a (5,) -> (1,)
    # gradient, 17.9k -> 7.5k instructions (the seed regression has two each epoch).
    plan = _SUM_AXES.get((gshape, shape))
    if plan is None:
        lead = len(gshape) - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                          if s == 1 and gshape[i + lead] != 1)
        # whether the reduced dims must be kept (as 1s) to give ``shape``; a full sum to ()
        # keeps them too, as it would otherwise give a NumPy scalar, not an array
        keep = not shape or tuple(n for i, n in enumerate(gshape) if i not in axes) != shape
        plan = axes, keep
        if len(_SUM_AXES) < 4096:
            _SUM_AXES[gshape, shape] = plan
    axes, keep = plan
    if graph:
        return apply(SUM_DIM, g, attrs=(axes, True)).reshape(shape) if axes else g.reshape(shape)
    # PERF: the ufunc's reduce, positional, skips np.sum's Python wrapper (~5 us on small arrays).
    # Where dropping the summed dims gives ``shape`` (a bias's (N, C) -> (C,)) the sum is the
    # result itself, not a reshaped view of it, so .grad can adopt it rather than copy it: an
    # MLP step with three biases (4-4-4-4, batch 64), forward + backward, 988.5k -> 974.2k
    # instructions.
    r = _add_reduce(g, axes, None, None, keep) if axes else g
    return r if r.shape == shape else r.reshape(shape)


_SUM_AXES = {}  # (gradient shape, input shape) -> (the axes sum_to_shape reduces, keepdims)
_add_reduce = np.add.reduce


def kept_shape(shape, dim):
    """The shape a reduction over ``dim`` has with keepdim=True."""
    dims = range(len(shape)) if dim is None else dim
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def expand_back(xp, g, shape, dim, keepdim):
    """The gradient of a sum over ``dim``: ``g`` broadcast back over the reduced dimensions."""
    if not keepdim:
        g = xp.reshape(g, kept_shape(shape, dim))
    return xp.broadcast_to(g, shape)


def _reshape_fwd(a, shape):
    return np.reshape(a, shape)


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted(_wrap_dim(d, ndim) for d in dim))


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

# -- arithmetic ------------------------------------------------------------------------------
ADD = defop("AddBackward0", "a b", np.add, lambda g: g, lambda g: g)
SUB = defop("SubBackward0", "a b", np.subtract, lambda g: g, lambda g: -g)


def _alpha_checked(f):
    """A forward with ``alpha`` that first makes PyTorch's checks of alpha against the dtype the
    operands were promoted to."""
    def run(a, b, alpha):
        kind = np.result_type(a, b).kind
        if kind in "iub" and isinstance(alpha, float):
            raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                               "point number.")
        if kind != "c" and isinstance(alpha, complex):
            raise RuntimeError("For non-complex input tensors, argument alpha must not be a "
                               "complex number.")
        return f(a, b, alpha)
    return run


# NOTE: `alpha` gets entries of its own so that the operators' hot path passes no attributes.
ADD_ALPHA = defop("AddBackward0", "a b", _alpha_checked(lambda a, b, alpha: a + alpha * b),
                  lambda g: g, lambda g, alpha: g * alpha, attrs="alpha")
SUB_ALPHA = defop("SubBackward0", "a b", _alpha_checked(lambda a, b, alpha: a - alpha * b),
                  lambda g: g, lambda g, alpha: -g * alpha, attrs="alpha")
# NOTE: RsubBackward1 is rsub with a number (which has no edge), RsubBackward0 with a tensor.
RSUB = show_edges(defop("RsubBackward1", "a other", lambda a, other: other - a,
                        lambda g: -g, lambda g: g), (0,))
RSUB_ALPHA = show_edges(defop("RsubBackward1", "a other",
                              _alpha_checked(lambda a, other, alpha: other - alpha * a),
                              lambda g, alpha: -g * alpha, lambda g: g, attrs="alpha"), (0,))
RSUB_TENSOR = defop("RsubBackward0", "a other", lambda a, other: other - a,
                    lambda g: -g, lambda g: g)
RSUB_TENSOR_ALPHA = defop("RsubBackward0", "a other",
                          _alpha_checked(lambda a, other, alpha: other - alpha * a),
                          lambda g, alpha: -g * alpha, lambda g: g, attrs="alpha")


def _is_bool(x) -> bool:
    """Whether an operand is a bool tensor or a bool number (which PyTorch wraps as one)."""
    return x._data.dtype.kind == "b" if isinstance(x, Tensor) else isinstance(x, (bool, np.bool_))


def refuse_bool_subtraction(args):
    """PyTorch's refusal to subtract with bools, whichever side they are on."""
    a, b = args[0], args[1]
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


for _op in (SUB, SUB_ALPHA, RSUB, RSUB_ALPHA, RSUB_TENSOR, RSUB_TENSOR_ALPHA):
    _op.check = refuse_bool_subtraction

MUL = defop("MulBackward0", "a b", np.multiply,
            lambda g, b: g * b,
            lambda g, a: g * a)
DIV = defop("DivBackward0", "a b", np.true_divide,
            lambda g, b: g / b,
            lambda g, a, b: -g * a / (b * b),
            dtype="float")
ADD.scalar, SUB.scalar, MUL.scalar, DIV.scalar = (operator.add, operator.sub, operator.mul,
                                                operator.truediv)
NEG = defop("NegBackward0", "a", np.negative, lambda g: -g, dtype="keep")
RECIPROCAL = defop("ReciprocalBackward0", "a", np.reciprocal,
                   lambda g, out: -g * (out * out), dtype="float")


def _pow_scalar_rule(g, a, exponent):
    if exponent == 0:
        return g * 0
    if exponent == 2 and type(a) is not Tensor:
        # PERF: a ** 1 is a, exactly, so one NumPy call fewer for the commonest power (the
        # seed's `** 2`: its regression, 37.9M -> 37.4M instructions); a recorded graph keeps
        # PyTorch's pow node
        return g * (2 * a)
    return g * (exponent * a ** (exponent - 1))


def _pow_scalar(a, exponent):
    """``a ** exponent`` for a number; floats take PyTorch's shortcuts for the usual exponents.

    PERF: products, sqrt and reciprocal instead of pow(): ~8x faster for x ** 3 on 1e6 float32
    (pow is a scalar libm loop here), and the same roundings as PyTorch's kernel."""
    if a.dtype.kind == "f":
        e = float(exponent)
        if e == 2.0:
            return np.multiply(a, a)
        if e == 3.0:
            out = a * a
            out *= a
            return out
        if e == 0.5:
            return np.sqrt(a)
        if e == -1.0:
            return np.reciprocal(a)
        if e == -2.0:
            return np.reciprocal(a * a)
        if e == -0.5:
            return np.reciprocal(np.sqrt(a))
    return np.power(a, exponent)


POW = show_edges(defop("PowBackward0", "a exponent", _pow_scalar, _pow_scalar_rule, None), (0,))
POW_TENSOR = defop(
    "PowBackward1", "a b", in_halves(np.power),  # PERF: two threads: fwd 1.5-1.9x on 1e6 floats
    lambda xp, g, a, b: xp.where(b == 0, 0.0, g * b * a ** xp.where(b == 0, 1.0, b - 1)),
    lambda xp, g, a, b, out: xp.where((a == 0) & (b >= 0), 0.0, g * out * xp.log(xp.where(a == 0, 1.0, a))))
RPOW = defop("PowBackward2", "base b", np.power, None,
             lambda xp, g, out, base, b: g * out * math.log(base) if base > 0 else
             xp.where(b >= 0, 0.0, g * out * (-math.inf if base == 0 else math.nan)))
show_edges(RPOW, (1,))

# -- elementwise math ------------------------------------------------------------------------
ABS = defop("AbsBackward0", "a", np.abs, lambda xp, g, a: g * xp.sign(a), dtype="keep")
EXP = defop("ExpBackward0", "a", np.exp, lambda g, out: g * out, dtype="float")
LOG = defop("LogBackward0", "a", np.log, lambda g, a: g / a, dtype="float")
SQRT = defop("SqrtBackward0", "a", np.sqrt, lambda g, out: g / (2 * out), dtype="float")
SIN = defop("SinBackward0", "a", np.sin, lambda xp, g, a: g * xp.cos(a), dtype="float")
COS = defop("CosBackward0", "a", np.cos, lambda xp, g, a: g * -xp.sin(a), dtype="float")


def _tanh_rule(xp, g, out):
    if xp is NX:
        return g * (1 - out * out)
    return apply(TANH_BACKWARD, g, out)


TANH = defop("TanhBackward0", "a", np.tanh, _tanh_rule, dtype="float")
# NOTE: with create_graph=True the gradients of tanh and sigmoid are one node each, as in
# PyTorch (tanh_backward(grad, result), sigmoid_backward(grad, result)), with PyTorch's formulas
# for their own gradients.
TANH_BACKWARD = defop("TanhBackwardBackward0", "grad y", lambda grad, y: _tanh_rule(NX, grad, y),
                      lambda xp, g, y: _tanh_rule(xp, g, y), lambda g, grad, y: -2 * y * grad * g)
def _sigmoid(a):
    # NOTE: PyTorch's 1 / (1 + exp(-a)): exp overflowing to inf gives 0, so -1000 stays finite.
    with np.errstate(over="ignore"):
        if a.dtype.char in "fd" and a.size > 4096:  # NOTE: small ones save the bookkeeping
            return _sigmoid_into(a)
        return _sigmoid_blocks(a)


@into_blocks
def _sigmoid_into(out, a):
    # PERF: every pass in place in the result's blocks: 1e6 float32, fwd+bwd (CPU time)
    # 7.1 -> 5.1 ms
    np.negative(a, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


@in_blocks
def _sigmoid_blocks(a):
    # PERF: one exp and two in-place passes per cache-sized block: 4x faster on 1e6 floats.
    if a.dtype.kind not in "fc" or a.dtype.itemsize < 4:
        a = a.astype(np.float32)  # NOTE: as PyTorch, in float32: float16's exp overflows at 11
    e = np.exp(np.negative(a))
    e += 1
    return np.reciprocal(e, out=e)


@in_blocks
def _sigmoid_backward_blocks(g, out):
    d = 1 - out
    d *= out
    d *= g
    return d


@into_blocks
def _sigmoid_backward_into(d, g, out):
    np.subtract(1, out, out=d)
    d *= out
    d *= g


def _sigmoid_rule(xp, g, out):
    if xp is NX:
        if g.dtype == out.dtype and g.dtype.char in "fd" and g.size > 4096:
            return _sigmoid_backward_into(g, out)
        return _sigmoid_backward_blocks(g, out)
    return apply(SIGMOID_BACKWARD, g, out)


SIGMOID = defop("SigmoidBackward0", "a", _sigmoid, _sigmoid_rule, dtype="float")
SIGMOID_BACKWARD = defop("SigmoidBackwardBackward0", "grad y",
                         lambda grad, y: _sigmoid_rule(NX, grad, y),
                         lambda xp, g, y: _sigmoid_rule(xp, g, y),
                         lambda g, grad, y: g * grad * (1 - 2 * y))
def _relu_backward_kernel(out, g, result):
    _kernels.keep(out, g, result <= 0, False)


def _relu_rule(xp, g, out):
    # NOTE: PyTorch's threshold_backward: +0.0 where the result is <= 0 whatever the gradient
    # (a multiply by the mask gave -0.0 and, for an infinite gradient, nan), the gradient
    # elsewhere, at nan results too.
    if xp is not NX:
        return xp.where(out <= 0, 0.0, g)
    if out.ndim == 0:
        return g if not out <= 0 else g.dtype.type(0)  # PERF: scalar graphs: no array op
    if g.dtype == out.dtype and g.shape == out.shape and g.dtype.char in "fd":
        return _kernels.fill(_relu_backward_kernel, [g, out])  # PERF: bits, not np.where
    return np.where(out <= 0, 0, g)


def _relu(a):
    if a.dtype.kind == "b":
        return a
    # NOTE: zeros first: at a tie NumPy's maximum returns its second argument, so -0.0 stays
    # -0.0 as in PyTorch's clamp_min. PERF: against an array, not the number 0: 3x faster.
    return np.maximum(_kernels.zeros(a), a)


RELU = defop("ReluBackward0", "a", _relu, _relu_rule, dtype="keep")
# PERF: large inputs of these ufuncs run in two halves on two threads (see _kernels.in_two):
# forward on 1e6 float32, exp 1.2-1.8x, log 1.7-1.9x, tanh ~1.95x, sin 1.5-1.9x, cos 1.8x; the
# table keeps the plain ufunc, so small tensors pay only `unary`'s size check.
for _op in (EXP, LOG, TANH, SIN, COS):
    _op.split = in_halves(_op.fwd)
RELU.attached = "ThresholdBackwardBackward0"  # PyTorch's threshold_backward
SIGN = defop("SignBackward0", "a", np.sign, lambda g: g * 0, dtype="keep")
WHERE = defop("WhereBackward0", "cond a b", np.where, None,
              lambda xp, g, cond: xp.where(cond, g, 0.0),
              lambda xp, g, cond: xp.where(cond, 0.0, g))
show_edges(WHERE, (1, 2))  # the condition has no edge

# -- reductions ------------------------------------------------------------------------------
SUM = defop("SumBackward0", "a", lambda a, dtype=None: np.add.reduce(a, axis=None, dtype=dtype),
            lambda xp, g, a_shape: xp.broadcast_to(g, a_shape), attrs="dtype", dtype="keep")
SUM_DIM = defop("SumBackward1", "a",
                lambda a, dim, keepdim, dtype=None: np.sum(a, axis=dim, keepdims=keepdim, dtype=dtype),
                lambda xp, g, a_shape, dim, keepdim: expand_back(xp, g, a_shape, dim, keepdim),
                attrs="dim keepdim dtype", dtype="keep")
def _mean(a):
    # PERF: np.mean's Python wrapper costs ~5 us; a sum and one division is what it computes
    return np.add.reduce(a, axis=None) / a.size if a.dtype.char in "fd" and a.size else np.mean(a)


MEAN = defop("MeanBackward0", "a", _mean,
             lambda xp, g, a_shape: xp.broadcast_to(g, a_shape) / _numel(a_shape), dtype="keep")
MEAN_DIM = defop("MeanBackward1", "a",
                 lambda a, dim, keepdim: np.mean(a, axis=dim, keepdims=keepdim),
                 lambda xp, g, a_shape, dim, keepdim:
                     expand_back(xp, g, a_shape, dim, keepdim) / _numel(a_shape, dim),
                 attrs="dim keepdim", dtype="keep")


def _numel(shape, dim=None):
    n = 1
    for i, s in enumerate(shape):
        if dim is None or i in dim:
            n *= s
    return n


# -- comparisons (no gradient) ---------------------------------------------------------------
EQ = defop("EqBackward0", "a b", np.equal, dtype="bool")
NE = defop("NeBackward0", "a b", np.not_equal, dtype="bool")
LT = defop("LtBackward0", "a b", np.less, dtype="bool")
LE = defop("LeBackward0", "a b", np.less_equal, dtype="bool")
GT = defop("GtBackward0", "a b", np.greater, dtype="bool")
GE = defop("GeBackward0", "a b", np.greater_equal, dtype="bool")

BITWISE_AND = defop("BitwiseAndBackward0", "a b", np.bitwise_and)  # no rules: not differentiable
BITWISE_OR = defop("BitwiseOrBackward0", "a b", np.bitwise_or)  # no rules: not differentiable
BITWISE_XOR = defop("BitwiseXorBackward0", "a b", np.bitwise_xor)  # no rules: not differentiable
BITWISE_NOT = defop("BitwiseNotBackward0", "a", np.invert)  # no rules: not differentiable

# -- copies, casts, shapes -------------------------------------------------------------------
CLONE = defop("CloneBackward0", "a", np.copy, lambda g: g, dtype="keep")
TO_COPY = defop("ToCopyBackward0", "a", lambda a, dtype: a.astype(dtype),
                lambda xp, g: g, attrs="dtype", dtype="keep")


def _reshape_rule(xp, g, a_shape):
    return xp.reshape(g, a_shape)


RESHAPE = defop("ViewBackward0", "a", _reshape_fwd, _reshape_rule, attrs="shape", dtype="keep")
# NOTE: PyTorch's reshape of a non-contiguous tensor that strides allow as a view is an
# _reshape_alias (a contiguous one's is a view): the same op under PyTorch's other node name.
RESHAPE_ALIAS = defop("ReshapeAliasBackward0", "a", _reshape_fwd, _reshape_rule, attrs="shape",
                      dtype="keep")
EXPAND = defop("ExpandBackward0", "a", lambda a, shape: np.broadcast_to(a, shape),
               lambda xp, g, a_shape: xp.sum_to(g, a_shape), attrs="shape", dtype="keep")


def _index_rule(xp, g, a_shape, view_fn):
    return xp.view_scatter(g, a_shape, view_fn)


_INDEX_OPS = {name: defop(name, "a", lambda a, view_fn: view_fn(a), _index_rule,
                          attrs="view_fn", dtype="keep")
              for name in ("SelectBackward0", "SliceBackward0", "UnsqueezeBackward0",
                           "AliasBackward0")}
VIEW_SCATTER = defop("AsStridedScatterBackward0", "g", _scatter_fwd,
                     lambda g, view_fn: view_fn(g), attrs="shape view_fn", dtype="keep")
AS_STRIDED = defop("AsStridedBackward0", "a", lambda a, view_fn: view_fn(a),
                   _index_rule, attrs="view_fn", dtype="keep")
# NOTE: a view that no strides of a fresh base-shaped array can give (one cut before its base was
# transposed in place) reads its elements by flat position: ``pos`` holds them in the view's shape.
AS_STRIDED_GATHER = defop(
    "AsStridedBackward0", "a", lambda a, pos: a.reshape(-1)[pos],
    lambda xp, g, a_shape, pos: xp.reshape(xp.index_acc(g, (_numel(a_shape),), pos), a_shape),
    attrs="pos", dtype="keep")



def _index_acc_fwd(g, shape, key):
    """Zeros of ``shape`` with ``g`` added at ``key``; repeated indices accumulate."""
    if g.dtype.kind == "f":
        # PERF: bincount over the flat positions `key` picks is ~4x faster than np.add.at
        # (100k x 64 gradient rows into 1000 rows: 32 ms against 124 ms).
        n = math.prod(shape)
        flat = np.arange(n).reshape(shape)[key]
        g = np.broadcast_to(g, flat.shape)
        return np.bincount(flat.ravel(), g.ravel(), n).astype(g.dtype, copy=False).reshape(shape)
    z = np.zeros(shape, g.dtype)
    np.add.at(z, key, g)  # NOTE: add.at, not z[key] += g, so repeated indices accumulate
    return z


def _zero_at(shape, key):
    mask = np.ones(shape, bool)
    mask[key] = False
    return mask


def _index_put_fwd(a, v, key):
    r = a.copy()
    r[key] = v
    return r


INDEX = defop("IndexBackward0", "a", lambda a, key: a[key],
              lambda xp, g, a_shape, key: xp.index_acc(g, a_shape, key), attrs="key", dtype="keep")
INDEX_ACC = defop("IndexPutImplBackward0", "g", _index_acc_fwd,
                  lambda g, key: g[key], attrs="shape key", dtype="keep")
INDEX_PUT = defop("IndexPutBackward0", "a v", _index_put_fwd,
                  lambda xp, g, key: g * xp.asarray(_zero_at(g.shape, key)),
                  lambda g, key: g[key], attrs="key", dtype="keep")
def _int_division(a, b):
    """PyTorch raises on an integer division by zero where NumPy would warn and return 0."""
    if np.result_type(a, b).kind in "iub" and np.any(np.asarray(b) == 0):
        raise RuntimeError("ZeroDivisionError")


def _div_mode(a, b, mode):
    _int_division(a, b)
    if mode == "floor":
        return np.floor_divide(a, b)
    if np.result_type(a, b).kind == "f":
        return np.trunc(a / b).astype(np.result_type(a, b))
    return np.fix(np.true_divide(a, b)).astype(np.result_type(a, b))


DIV_MODE = defop("DivBackward2", "a b", _div_mode, lambda g: g * 0, lambda g: g * 0, attrs="mode")

# -- in-place fills --------------------------------------------------------------------------
ZERO = defop("ZeroBackward0", "a", np.zeros_like, lambda g: g * 0, dtype="keep")
FILL = defop("FillBackward2", "a", lambda a, value: np.full_like(a, value),
             lambda g: g * 0, attrs="value", dtype="keep")
FILL_TENSOR = defop("FillBackward3", "a value", lambda a, value: np.full_like(a, value),
                    lambda g: g * 0, lambda g: g.sum(), dtype="keep")
COPY = defop("CopyBackwards", "a src",
             lambda a, src: np.broadcast_to(src, a.shape).astype(a.dtype),
             lambda g: g * 0, lambda g: g, dtype="keep")


# ---------------------------------------------------------------------------------------------
# The two array namespaces the rules see as `xp`
# ---------------------------------------------------------------------------------------------

def view_scatter(g, shape, view_fn):
    return apply(VIEW_SCATTER, g, attrs=(tuple(shape), view_fn))


def _expand(g, shape):
    """``g`` broadcast to ``shape``: a copy when small (cheaper than np.broadcast_to's Python
    wrapper, and writeable), a read-only view when large (no memory traffic)."""
    if len(shape) == 0 or _numel(shape) <= 4096:
        r = np.empty(shape, g.dtype if type(g) is _ndarray else np.result_type(g))
        r[...] = g
        return r
    return np.broadcast_to(g, shape)


def _dims_of(x, dims):
    """``dims`` (None, an int or a sequence, possibly negative) as SUM_DIM's sorted tuple."""
    if dims is None:
        return None
    if isinstance(dims, int):
        dims = (dims,)
    return tuple(sorted(d % x.ndim for d in dims)) if x.ndim else ()


# NOTE: with create_graph=True, some of PyTorch's derivative formulas are functions of their own
# (relu's is threshold_backward(grad, result)) whose result stays attached to the saved tensor
# even though it only masks the gradient: a second derivative through them is zeros. Others
# (clamp, maximum, max) mask with a plain comparison, which detaches. Ops of the first kind set
# `attached` to the name of PyTorch's double-backward node; their rules' masks give a constant
# here, so the result is attached to the saved tensors by a node of that name whose derivative
# for them is zero (and the identity for the gradient, when that requires grad too).
_ATTACH = {}


def _attach(r, env, node):
    """``r``, a rule's result in a create_graph backward, attached to the saved tensors of
    ``node`` (in ``env``) that require grad, if its op is `attached`."""
    name = type(node).op.attached
    if name is None or not isinstance(r, Tensor):
        return r
    for v in env[2:]:
        if isinstance(v, Tensor) and (v._grad_fn is not None or v._requires_grad):
            op = _ATTACH.get(name)
            if op is None:
                op = _ATTACH[name] = defop(name, "r t", lambda r, t: r, lambda g: g,
                                           lambda xp, t: xp.zeros_like(t), dtype="keep")
            r = apply(op, r, v)
    return r


NX = SimpleNamespace(
    sum_keep=lambda x, dims: np.sum(x, axis=dims, keepdims=True),
    where=np.where, sign=np.sign, sqrt=np.sqrt,
    # PERF: compute-bound, so large arrays take two threads (see _kernels.in_two): 1.5-1.9x a call
    # on 1e6 float32 (cos, the gradient of sin: sin fwd+bwd 1.2x)
    cos=in_halves(np.cos), sin=in_halves(np.sin), exp=in_halves(np.exp), log=in_halves(np.log),
    reshape=np.reshape, broadcast_to=_expand,
    sum_to=lambda g, shape: sum_to_shape(g, shape, False),
    view_scatter=_scatter_fwd, index_acc=_index_acc_fwd, asarray=np.asarray,
    zeros_like=np.zeros_like,
)


def _t(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


TX = SimpleNamespace(
    sum_keep=lambda x, dims: apply(SUM_DIM, x, attrs=(_dims_of(x, dims), True, None)),
    where=lambda c, a, b: apply(WHERE, _t(c), a, b),
    sign=lambda a: apply(SIGN, a), cos=lambda a: apply(COS, a), sin=lambda a: apply(SIN, a),
    exp=lambda a: apply(EXP, a), log=lambda a: apply(LOG, a), sqrt=lambda a: apply(SQRT, a),
    reshape=lambda a, shape: apply(RESHAPE, a, attrs=(tuple(shape),)),
    broadcast_to=lambda a, shape: apply(EXPAND, a, attrs=(tuple(shape),)),
    sum_to=lambda g, shape: sum_to_shape(g, shape, True),
    view_scatter=view_scatter,
    index_acc=lambda g, shape, key: apply(INDEX_ACC, g, attrs=(tuple(shape), key)),
    asarray=_t,
    zeros_like=lambda t: _wrap(np.zeros_like(t._data)),
)


# The engine needs a few of this module's names; bind them once (see autograd/engine.py).
_engine.sum_to_shape, _engine.COPY, _engine.inplace, _engine._SavedOut = \
    sum_to_shape, COPY, inplace, _SavedOut
_engine._NX, _engine._TX, _engine._attach = NX, TX, _attach
