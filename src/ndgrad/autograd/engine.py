"""The reverse-mode engine: graph nodes, and the iterative walk that runs them.

Nodes know their edges and saved values; the rules themselves live in the op table (``_ops``).
The engine keeps the books: it sums broadcast gradients back to each input's shape, casts them to
its dtype, adds up gradients that meet at a node, runs hooks and fills ``.grad``.
"""
from __future__ import annotations

import sys
import weakref

import numpy as np

from .._dtypes import FROM_NUMPY
from .grad_mode import state

# PERF: names from modules that import this one are bound once, when those modules load
# (_tensor.py and _ops.py), instead of by an import statement on every backward (~1 us each).
Tensor = _wrap = None
sum_to_shape = COPY = inplace = _SavedOut = _NX = _TX = _attach = None

ERR_BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")

HINT = ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True, check_nan=False).")


# While anomaly mode is on: fn(node, grads, graph, useful) runs the node and checks what it returns.
ANOMALY = None
SavedOut = None  # _ops._SavedOut, bound when the op table loads (it imports this module)
PASS = None  # _ops.PASS, the shared caller of rules that hand the gradient on as it is


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` takes the hook out again."""

    __slots__ = ("_list", "_hook")

    def __init__(self, hooks: list, hook):
        self._list, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._list:
            self._list.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Node:
    """A backward function in the graph. Input k's edge is ``next[k]``, the target: another Node,
    a leaf Tensor (its gradient is accumulated) or None; ``nrs[k]`` says which of a Node's outputs
    input k was (0 for a leaf)."""

    # PERF: targets and output numbers in two tuples, not a tuple of (target, nr) pairs: one
    # object fewer per input for the cyclic GC to track (the output numbers are nearly always
    # zeros, shared through ZEROS). Full collections walking a large graph cost ~half of a
    # scalar-graph workload before this.
    __slots__ = ("next", "nrs", "saved", "versions", "attrs", "metas", "__dict__", "__weakref__")
    # PERF: hooks are rare, so they are class-level defaults that a node overrides only when one
    # is registered (its __dict__ is made then): four slot stores fewer per recorded op.
    _hooks = _prehooks = _tensor_hooks = _retained = None
    # The op whose rules the engine's fast path may run for this node: a table op with one
    # output (set on its node class). Registering any of the four hooks sets it to None on the
    # node, and the engine then takes its general path.
    fastop = None
    op = None
    nout = 1  # how many outputs the node's forward had (gradient slots)

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        return tuple((None, 0) if t is None else (_display(t), nr)
                     for t, nr in zip(self.next, self.nrs))

    @property
    def metadata(self) -> dict:
        return {}

    def register_hook(self, fn) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after this node; it may return new grad_inputs."""
        if self._hooks is None:
            self._hooks = []
            self.fastop = None
        self._hooks.append(fn)
        return RemovableHandle(self._hooks, fn)

    def register_prehook(self, fn) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before this node; it may return new grad_outputs."""
        if self._prehooks is None:
            self._prehooks = []
            self.fastop = None
        self._prehooks.append(fn)
        return RemovableHandle(self._prehooks, fn)

    def release(self) -> None:
        if self.saved:
            self.saved = None


# The nodes PyTorch shows ``_saved_alpha`` on even when alpha is 1 (ndgrad's ops then have none).
_ALPHA_NODES = ("AddBackward0", "SubBackward0", "RsubBackward0", "RsubBackward1")

# Every key PyTorch may show as ``grad_fn._saved_<key>`` on the nodes of a table op.
_TORCH_SAVED_KEYS = ("self", "other", "exponent", "result", "condition", "self_sym_sizes",
                     "self_sym_numel", "alpha")


def saved_properties(op) -> dict:
    """``_saved_<key>`` properties for the node class of a table op: what the op saved, under
    PyTorch's names.

    PERF: properties on the class rather than a ``__getattr__`` on Node, whose mere presence
    makes CPython run a slower lookup (two extra type lookups) for every attribute of every
    node: ~10% of the backward pass."""
    names = [n for _, _, n in op.saves]
    props = {}
    for key in _TORCH_SAVED_KEYS + tuple(names) + tuple(op.attrs):
        name = _torch_saved_name(op, key)
        if name in names or name in op.attrs or (
                key == "alpha" and op.name in _ALPHA_NODES):
            props["_saved_" + key] = property(lambda node, key=key: _saved_value(node, op, key)[1])
    return props


def _torch_saved_name(op, key):
    """Our saved-value or attribute name for PyTorch's ``_saved_<key>``, or None."""
    ins, name = op.inputs, op.name
    if key == "condition" and name.startswith("Where"):
        return ins[0]
    if key == "self" and not name.startswith("Where"):
        return ins[0]
    if len(ins) > 1 and key == ("exponent" if name.startswith("Pow") else "other"):
        return ins[1]
    if key == "result":
        return "out"
    if key == "self_sym_sizes" or (key == "self_sym_numel" and name.startswith("Mean")):
        return ins[0] + "_shape"
    return key


def _saved_value(node, op, key):
    """(found, value) for ``node._saved_<key>``: tensors as PyTorch hands them back."""
    name = _torch_saved_name(op, key)
    names = [n for _, _, n in op.saves]
    if name in names:
        if node.saved is None:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        from .graph import Packed
        v = node.saved[names.index(name)]
        if type(v) is _SavedOut:
            t = _wrap(v.arr, node)
            t._vc, t._output_nr = v.vc, v.nr
            return True, t
        if type(v) is Packed:
            return True, v.unpack(True, node, inspect=True)
        if key == "self_sym_numel":
            return True, int(np.prod(v))
        return True, v
    if name in op.attrs:
        return True, node.attrs[op.attrs.index(name)]
    if key == "alpha" and op.name in _ALPHA_NODES:
        return True, 1
    return False, None


class _Zeros(dict):
    def __missing__(self, k):
        z = self[k] = (0,) * k
        return z


ZEROS = _Zeros()  # ZEROS[k]: the shared ``nrs`` of a node whose k inputs are all output 0


def split_edges(edges):
    """``(next, nrs)`` of a node from its edges, each ``(target, nr)`` or None."""
    targets = tuple(None if e is None else e[0] for e in edges)
    nrs = tuple(0 if e is None else e[1] for e in edges)
    return targets, (nrs if any(nrs) else ZEROS[len(nrs)])


def new_node(cls, edges, saved=(), versions=None, attrs=(), metas=()):
    """A node of class ``cls`` with ``edges`` (each ``(target, nr)`` or None) to its inputs."""
    n = cls.__new__(cls)
    n.next, n.nrs = split_edges(edges)
    n.saved, n.versions, n.attrs, n.metas = saved, versions, attrs, metas
    return n


class AccumulateGrad(Node):
    """What ``next_functions`` shows for a leaf: the node that adds a gradient into ``.grad``."""

    __slots__ = ("variable",)

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()


def _display(target):
    if isinstance(target, Node):
        return target
    acc = target._acc() if target._acc is not None else None
    if acc is None:
        acc = new_node(AccumulateGrad, ())
        acc.variable = target
        target._acc = weakref.ref(acc)
    return acc


# ---------------------------------------------------------------------------------------------
# Running the graph
# ---------------------------------------------------------------------------------------------

def _reconcile(g, meta, graph):
    """Sum a broadcast gradient back to the input's shape and cast it to the input's dtype."""
    shape, dt = meta
    if g.shape != shape:
        g = sum_to_shape(g, shape, graph)
    if graph:
        if g._data.dtype != dt:
            g = g.to(FROM_NUMPY[dt])
    elif g.dtype != dt:
        g = g.astype(dt)
    return g


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True):
    """Differentiate ``roots`` (tensors) seeded with ``root_grads``; fill leaf ``.grad`` when
    ``accumulate``, and return the gradients reaching ``inputs`` (tensors) when given."""

    graph = create_graph

    # 1. Discover the graph and count, for each node and leaf, how many edges lead into it.
    # Gradients wait in `buf` until every edge into their target has delivered: under the
    # target for its output 0 (a leaf's only one), under (target, nr) for output nr > 0.
    deps = {}
    stack = []
    buf = {}
    for t, g in zip(roots, root_grads):
        target = t._grad_fn
        if target is None:
            target, nr = t, 0
        else:
            if t._base is not None:
                target = t._sync_grad_fn()
            nr = t._output_nr
        if target not in deps:
            deps[target] = 0
            stack.append(target)
        key = (target, nr) if nr else target
        prev = buf.get(key)
        buf[key] = g if prev is None else prev + g
    # PERF: the stacks here stand on a floor of Nones and never run empty: a list popped to
    # empty gives its memory back and takes it again on the next append, two reallocs a node
    # in a chain, where the stack holds one item at a time (~1k instructions of each node).
    todo = _FLOOR + stack
    order = [] if inputs is not None else None  # only grad(inputs=) prunes, by this order
    while True:
        n = todo.pop()
        if n is None:
            break
        if order is not None:
            order.append(n)
        if type(n) is Tensor:
            continue
        for tgt in n.next:
            if tgt is not None:
                if tgt in deps:
                    deps[tgt] += 1
                else:
                    deps[tgt] = 1
                    todo.append(tgt)

    # 2. With `inputs`, only what leads to an input runs, and only those inputs are filled.
    capture = None
    needed = useful = None
    if inputs is not None:
        capture = {}
        wanted = set()
        for i, t in enumerate(inputs):
            key = (t._sync_grad_fn(), t._output_nr) if t._grad_fn is not None else (t, 0)
            capture.setdefault(key, []).append(i)
            wanted.add(key[0])
        needed = _prune(order, deps, wanted)
        useful = needed | wanted
    results = [None] * (len(inputs) if inputs is not None else 0)

    # 3. Run every node once all its gradients are in, handing each result on along its edge.
    # PERF: `deps[t]` counts the edges still to deliver into t, negated once a gradient waits
    # in `buf` for t's output 0. The last edge into a target pushes the target with its output-0
    # gradient onto `ready` and `ready_g`, so a target with one consumer, most nodes of a graph,
    # never touches `buf`. With the edge loop below, 12.2k -> 8.3k instructions a node of an
    # add chain's backward, 18.1k -> 13.9k of the 1,000-op chain's.
    ready, ready_g = _FLOOR[:], _FLOOR[:]
    for target in stack:
        c = deps[target]
        if c == 0:
            ready.append(target)
            ready_g.append(buf.pop(target, None))
        elif target in buf:
            deps[target] = -c
    xp = _TX if graph else _NX
    fast = capture is None and ANOMALY is None
    env = outs = None
    prev_mode = state.enabled
    state.enabled = graph
    try:
        while True:
            n = ready.pop()
            if n is None:
                break
            g = ready_g.pop()
            if type(n) is Tensor:  # a leaf
                if capture is not None:
                    for i in capture.get((n, 0), ()):
                        results[i] = g
                if g is not None and accumulate and (capture is None or (n, 0) in capture):
                    # Stale references to gradients, so that _accumulate can tell by its
                    # reference count whether nothing else holds this one.
                    env = outs = arr = None
                    _accumulate(n, g, graph)
                    g = None
                continue
            op = n.fastop
            if op is not None and fast and g is not None:
                # PERF: a table op's single-output node with no hooks, outside grad(inputs=) and
                # anomaly mode: its rules run here and their results go straight on (the general
                # path below builds a list of them first). ~20% of a backward.
                env = [g, xp]
                saved = n.saved
                if saved:
                    vers = n.versions
                    if vers is None:
                        env += saved
                    elif graph:
                        env += n._unpack(graph)
                    else:
                        # PERF: OpNode._unpack and release inlined for saved tensors and
                        # results still at their version: 34.0k -> 30.4k instructions per node
                        # of a 0-d mul/add/relu chain.
                        k = 0
                        for v in saved:
                            ver = vers[k]
                            k += 1
                            if ver is None:
                                env.append(v)
                            elif type(v) is Tensor and v._vc[0] == ver:
                                v = v._data
                                # PERF: a 0-d value as a NumPy scalar, so that the rule's
                                # arithmetic takes NumPy's scalar path (same IEEE results):
                                # a 0-d mul/add/relu chain, 30.4k -> 25.7k instructions per node.
                                env.append(v if v.ndim else v[()])
                            elif type(v) is SavedOut and v.vc[0] == ver:
                                v = v.arr
                                env.append(v if v.ndim else v[()])
                            else:
                                env += n._unpack(graph)[len(env) - 2:]
                                break
                    if not retain_graph:
                        for j in op.freeable:
                            if saved[j] is not None:
                                n.saved = None
                                break
                elif saved is None:
                    raise RuntimeError(ERR_BACKWARD_TWICE)
                if n.attrs:
                    env += n.attrs
                nrs, calls, metas = n.nrs, op.calls, n.metas
                k = -1
                # PERF: indices into the edge tuples, not zip(): making a zip of four costs
                # ~300 ns on its own.
                for tgt in n.next:
                    k += 1
                    if tgt is None:
                        continue
                    call = calls[k]
                    if call is None:
                        g = None
                    elif call is PASS and not graph:
                        # PERF: no call for a rule that hands g on (add, sub): ~100 ns an
                        # edge, 62k edges of the scalar MLP's step
                        g = env[0]
                    else:
                        rule, get, spread = call
                        g = rule(*get(env)) if spread else rule(get(env))
                    if g is not None:
                        if graph:
                            g = _attach(g, env, n)
                            arr = g._data
                        else:
                            arr = g
                        meta = metas[k]
                        # PERF: _give inlined, and in it the shape/dtype check. A NumPy scalar
                        # (the rules' result on 0-d values) is checked by its type: its .shape
                        # and .dtype are made on each access, ~1k instructions an edge.
                        if type(arr) is _ndarray:
                            if arr.shape != meta[0] or (arr.dtype is not meta[1] and
                                                        arr.dtype != meta[1]):
                                g = _reconcile(g, meta, graph)
                        elif meta[0] or _SCALAR_DTYPE.get(type(arr)) is not meta[1]:
                            if arr.shape != meta[0] or arr.dtype != meta[1]:
                                g = _reconcile(g, meta, graph)
                        nr = nrs[k]
                        if nr:
                            _put(buf, (tgt, nr), g)
                            g = None
                    d = deps[tgt]
                    if d == 1:
                        ready.append(tgt)
                        ready_g.append(g)
                    elif d == -1:
                        p = buf.pop(tgt)
                        ready.append(tgt)
                        ready_g.append(p if g is None else p + g)
                    elif d > 1:
                        if g is None:
                            deps[tgt] = d - 1
                        else:
                            buf[tgt] = g
                            deps[tgt] = 1 - d
                    else:
                        if g is not None:
                            buf[tgt] = buf[tgt] + g
                        deps[tgt] = d + 1
                continue
            nout = n.nout
            grads = [g] if nout == 1 else [g] + [buf.pop((n, k), None) for k in range(1, nout)]
            g = None
            if n._tensor_hooks is not None or n._retained is not None:
                grads = _tensor_hooks(n, grads, graph)
            if capture is not None:
                for nr in range(len(grads)):
                    for i in capture.get((n, nr), ()):
                        results[i] = grads[nr]
                        if accumulate and inputs[i]._grad_fn is not None:
                            _accumulate_nonleaf(inputs[i], grads[nr], graph)
                if n not in needed:
                    continue
            if n._prehooks is not None:
                for h in n._prehooks:
                    r = h(tuple(_as_tensor(g, graph) for g in grads))
                    if r is not None:
                        grads = [_as_array(x, graph) for x in r]
            if grads[0] is None if len(grads) == 1 else all(g is None for g in grads):
                outs = [None] * len(n.next)
            elif ANOMALY is None:
                outs = n.apply(grads, graph, useful)
            else:
                outs = ANOMALY(n, grads, graph, useful)
            if n._hooks is not None:
                for h in n._hooks:
                    r = h(tuple(_as_tensor(g, graph) for g in outs),
                          tuple(_as_tensor(g, graph) for g in grads))
                    if r is not None:
                        outs = [_as_array(x, graph) for x in r]
            grads = None
            if not retain_graph and n.saved:
                n.release()
            for tgt, nr, g, meta in zip(n.next, n.nrs, outs, n.metas):
                if tgt is not None:
                    _give(deps, buf, ready, ready_g, tgt, nr, g, meta, graph)
            g = None
    finally:
        state.enabled = prev_mode
    return results


_ndarray = np.ndarray
# The dtype of each NumPy scalar type a rule may return
_SCALAR_DTYPE = {t: np.dtype(t) for t in (np.float16, np.float32, np.float64, np.longdouble,
                                          np.complex64, np.complex128)}
_FLOOR = [None] * 8  # the bottom of the engine's stacks (see `todo` in run_backward)


def _put(buf, key, g):
    """Add ``g`` to the gradient waiting in ``buf`` under ``key``."""
    prev = buf.get(key)
    buf[key] = g if prev is None else prev + g


def _give(deps, buf, ready, ready_g, target, nr, g, meta, graph):
    """Deliver ``g`` (or None) along an edge into output ``nr`` of ``target``, first fitting it to
    the input's (shape, dtype) ``meta``; the last edge into the target makes it ready. The general
    path's form of what the fast path does inline (see `deps` in run_backward)."""
    if g is not None:
        arr = g._data if graph else g
        if arr.shape != meta[0] or (arr.dtype is not meta[1] and arr.dtype != meta[1]):
            g = _reconcile(g, meta, graph)
        if nr:
            _put(buf, (target, nr), g)
            g = None
    d = deps[target]
    if d == 1 or d == -1:
        if d == -1:
            p = buf.pop(target)
            g = p if g is None else p + g
        ready.append(target)
        ready_g.append(g)
    elif g is None:
        deps[target] = d - 1 if d > 0 else d + 1
    elif d > 1:
        buf[target] = g
        deps[target] = 1 - d
    else:
        buf[target] = buf[target] + g
        deps[target] = d + 1


def _prune(order, deps, wanted):
    """The nodes whose backward must run: those from which a wanted node can be reached."""
    needed = set()
    # NOTE: `order` is a depth-first discovery order, which in a graph with shared nodes can list
    # a node after one it leads to, so sweep until nothing changes (usually one or two sweeps).
    changed = True
    while changed:
        changed = False
        for n in reversed(order):
            if type(n) is Tensor or n in needed:
                continue
            for tgt in n.next:
                if tgt is not None and (tgt in wanted or tgt in needed):
                    needed.add(n)
                    changed = True
                    break
    return needed


def _as_tensor(g, graph):
    return g if graph or g is None else _wrap(g)


def _as_array(x, graph):
    if x is None or graph:
        return x
    return x._data if hasattr(x, "_data") else np.asarray(x)


def _tensor_hooks(n, grads, graph):
    grads = list(grads)
    if n._tensor_hooks is not None:
        for nr, hooks in n._tensor_hooks.items():
            for h in list(hooks):
                if grads[nr] is not None:
                    r = h(_as_tensor(grads[nr], graph))
                    if r is not None:
                        grads[nr] = _as_array(r, graph)
    if n._retained is not None:
        for nr, ref in n._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                _accumulate_nonleaf(t, grads[nr], graph)
    return grads


def _accumulate_nonleaf(t, g, graph):
    if graph:
        t._grad = g.clone() if t._grad is None else t._grad + g
    else:
        t._grad = _wrap(g.copy()) if t._grad is None else _wrap(t._grad._data + g)


def _accumulate(t, g, graph):
    """Add a leaf's gradient into ``.grad``: its hooks first, post-accumulate hooks after."""
    if t._hooks is not None:
        for h in list(t._hooks):
            r = h(_as_tensor(g, graph))
            if r is not None:
                g = _as_array(r, graph)
    old = t._grad
    if graph:
        if old is None:
            # NOTE: PyTorch fills a fresh buffer with copy_, so the new .grad shows CopyBackwards.
            t._grad = inplace(COPY, _wrap(np.empty(g._data.shape, g._data.dtype)), g)
        else:
            t._grad = old + g
    elif old is None:
        # NOTE: the engine may hand the same array to several leaves (AddBackward passes `g`
        # through), and a seed or a broadcast view belongs to others, so .grad gets its own
        # copy, unless g is a whole writeable array that only this call and its caller
        # reference (three counts, getrefcount's argument included): then it is adopted, as
        # PyTorch steals a gradient nobody else holds.
        # PERF: a copy of every weight gradient was ~10% of an MLP step.
        if type(g) is np.ndarray and g.base is None and g.flags.writeable and \
                sys.getrefcount(g) <= 3:
            t._grad = _wrap(g)
        else:
            t._grad = _wrap(np.array(g, copy=True))
    else:
        np.add(old._data, g, out=old._data, casting="unsafe")
        old._vc[0] += 1
    if t._post_hooks is not None:
        for h in list(t._post_hooks):
            h(t)
