"""``ndgrad.func``: composable function transforms (`torch.func`): vmap, grad, vjp, jvp, jacobians.

Transforms nest freely: grad records on plain tensors whose leading dimensions are the active
vmaps' batches, and vmap's batching rules live in ``_vmap``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from . import _ops as O
from . import _vmap as V
from ._tensor import Tensor, _wrap
from .autograd import forward_ad as fwAD
from .autograd.grad_mode import enable_grad, state

__all__ = ["vmap", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
           "functional_call"]


# ---------------------------------------------------------------------------------------------
# Pytrees: tuples, lists and dicts of leaves
# ---------------------------------------------------------------------------------------------

def _flatten(tree):
    """The leaves of ``tree`` and a spec to rebuild it."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for x in tree:
            lv, sp = _flatten(x)
            leaves += lv
            specs.append(sp)
        return leaves, (type(tree), None, specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for x in tree.values():
            lv, sp = _flatten(x)
            leaves += lv
            specs.append(sp)
        return leaves, (dict, list(tree), specs)
    return [tree], None


def _unflatten(leaves, spec):
    it = iter(leaves)

    def build(sp):
        if sp is None:
            return next(it)
        kind, keys, subs = sp
        items = [build(s) for s in subs]
        if kind is dict:
            return dict(zip(keys, items))
        return kind(items) if kind in (tuple, list) else kind(*items)
    return build(spec)


def _spec_str(spec, depth: int = 1) -> str:
    """A spec written as torch's pytree prints a TreeSpec (one child per line)."""
    if spec is None:
        return "*"
    kind, keys, subs = spec
    sep = ",\n" + "  " * depth
    return (f"TreeSpec({kind.__name__}, {keys}, "
            f"[{sep.join(_spec_str(s, depth + 1) for s in subs)}])")


def _tree_str(spec) -> str:
    """A spec in torch's short form: ``*`` for a leaf, ``(*, *)`` for a pair."""
    if spec is None:
        return "*"
    kind, keys, subs = spec
    parts = [_tree_str(s) for s in subs]
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(keys, parts)) + "}"
    if kind is list:
        return "[" + ", ".join(parts) + "]"
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


class _Mismatch(Exception):
    pass


def _broadcast_prefix(prefix, tree, spec):
    """One entry of ``prefix`` (a tree that is a prefix of ``tree``'s) per leaf of ``tree``."""
    if spec is None:
        return [prefix]
    if not isinstance(prefix, (tuple, list, dict)):
        return [prefix] * len(_flatten(tree)[0])
    kind, keys, subs = spec
    children = list(tree.values()) if kind is dict else list(tree)
    if isinstance(prefix, dict) != (kind is dict) or len(prefix) != len(children):
        raise _Mismatch
    pre = [prefix[k] for k in keys] if kind is dict else list(prefix)
    out = []
    for p, c, s in zip(pre, children, subs):
        out += _broadcast_prefix(p, c, s)
    return out


def _name(func) -> str:
    return getattr(func, "__name__", repr(func))


# ---------------------------------------------------------------------------------------------
# vmap
# ---------------------------------------------------------------------------------------------

def vmap(func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """``func`` mapped over a dimension of its inputs, computed batched (`torch.func.vmap`).

    >>> import ndgrad
    >>> ndgrad.func.vmap(lambda x: x.sum())(ndgrad.ones(2, 3))
    tensor([3., 3.])
    """
    # NOTE: randomness and chunk_size are accepted and change nothing: the batch is computed
    # in one piece, and random ops draw the same values for every batch element.
    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmap_call(func, in_dims, out_dims, args, kwargs)
    return wrapped


def _vmap_call(func, in_dims, out_dims, args, kwargs):
    fname = _name(func)
    head = f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
        raise ValueError(f"{head}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({fname})(<inputs>): got no inputs. Maybe you forgot to add "
                         "inputs, or you are trying to vmap over a function with no inputs. The "
                         "latter is unsupported.")
    leaves, spec = _flatten(args)
    try:
        dims = _broadcast_prefix(in_dims, args, spec)
    except _Mismatch:
        dspec = _flatten(in_dims)[1]
        raise ValueError(f"{head}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {_spec_str(dspec)} but inputs has structure "
                         f"{_spec_str(spec)}.") from None
    sizes = []
    for x, d in zip(leaves, dims):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{head}: in_dims must be int or None, got {type(d)}")
        if not isinstance(x, Tensor):
            raise ValueError(f"{head}: Got in_dim={d} for an input but the input is of type "
                             f"{type(x)}. We cannot vmap over non-Tensor arguments, please use "
                             "None as the respective in_dim")
        n = x.ndim
        if not -n <= d < n:
            raise ValueError(f"{head}: Got in_dim={d} for some input, but that input is a Tensor "
                             f"of dimensionality {n} so expected in_dim to satisfy -{n} <= in_dim "
                             f"< {n}.")
        sizes.append(x.shape[d])
    if not sizes:
        raise ValueError(f"{head}: at least one input must be a Tensor to be vmapped over "
                         "(got in_dims all None or no Tensor inputs)")
    if len(set(sizes)) > 1:
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    level = V.push(sizes[0])
    try:
        batched = [x if d is None else V.add_batch_dim(x, d, level) for x, d in zip(leaves, dims)]
        out = func(*_unflatten(batched, spec), **kwargs)
        outs, ospec = _flatten(out)
        try:
            odims = _broadcast_prefix(out_dims, out, ospec)
        except _Mismatch:
            raise ValueError(f"vmap({fname}, ...): out_dims is not compatible with the structure "
                             f"of `outputs`. out_dims has structure {_spec_str(_flatten(out_dims)[1])}"
                             f" but outputs has structure {_spec_str(ospec)}.") from None
        results = []
        for o, d in zip(outs, odims):
            if not isinstance(o, Tensor):
                if d is None:
                    results.append(o)
                    continue
                raise ValueError(f"vmap({fname}, ...): `{fname}` must only return Tensors, got "
                                 f"type {type(o)}. Did you mean to set out_dims= to None for "
                                 "output?")
            results.append(V.remove_batch_dim(o, level, d))
    finally:
        V.pop(level)
    return _unflatten(results, ospec)


# ---------------------------------------------------------------------------------------------
# Reverse mode: grad, grad_and_value, vjp
# ---------------------------------------------------------------------------------------------

class _Prepared:
    """Differentiable stand-ins for a function's inputs: plain tensors whose leading dimensions
    are the active vmaps' batches, fresh in the graph so that nested transforms stay apart."""

    def __init__(self, leaves):
        self.levels = V.active_levels()
        self.outer = False  # whether an enclosing transform differentiates through the result
        self.inner, self.wrapped = [], []
        for x in leaves:
            if not isinstance(x, Tensor):
                self.inner.append(None)
                self.wrapped.append(x)
                continue
            plain, _ = V.unwrap_all(V.ensure_levels(x, self.levels))
            tangent = fwAD.unpack_dual(plain).tangent
            if plain.requires_grad and state.enabled:
                self.outer = True
                p = O.apply(O.CLONE, plain)
            else:
                p = plain.detach().requires_grad_()
                if tangent is not None:
                    p = fwAD.make_dual(p, tangent)
            self.inner.append(p)
            self.wrapped.append(V.rewrap(p, self.levels))

    def plain(self, t: Tensor) -> Tensor:
        return V.unwrap_all(V.ensure_levels(t, self.levels))[0]

    def grads(self, outputs, seeds, create_graph):
        """The gradients reaching each stand-in, as plain tensors (zeros where unused)."""
        from .autograd import grad as autograd_grad
        targets = [p for p in self.inner if p is not None]
        # NOTE: forward over reverse: while a level of forward AD is active the backward records
        # its ops, so that they carry the tangents (of the stand-ins, or of tensors the function
        # closed over) to the gradients.
        create_graph = create_graph or fwAD._Level.current is not None
        live = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
        if live:
            res = list(autograd_grad([o for o, _ in live], targets, [s for _, s in live],
                                     retain_graph=True, create_graph=create_graph,
                                     allow_unused=True))
        else:
            res = [None] * len(targets)
        out = []
        it = iter(res)
        for p in self.inner:
            if p is None:
                out.append(None)
                continue
            r = next(it)
            if r is None:
                r = _wrap(np.zeros(p._data.shape, p._data.dtype))
            out.append(r)
        return out


def _detach(t: Tensor) -> Tensor:
    """``t`` cut from the graph, keeping its forward-mode tangent (cut from the graph too)."""
    plain, levels = V.unwrap_all(t)
    tangent = fwAD.unpack_dual(plain).tangent
    d = plain.detach()
    return V.rewrap(d if tangent is None else fwAD.make_dual(d, tangent.detach()), levels)


def _argnums(argnums, n):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise RuntimeError("argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
    return tuple(a % n for a in nums)


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """``func``'s gradient with respect to ``argnums`` and its value (`torch.func.grad_and_value`)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        diff = tuple(args[i] for i in nums)
        leaves, spec = _flatten(diff)
        with enable_grad():
            prep = _Prepared(leaves)
            new = list(args)
            sub = _unflatten(prep.wrapped, spec)
            for i, x in zip(nums, sub):
                new[i] = x
            out = func(*new, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be "
                                       "a tuple: (output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out)}")
            if out.ndim != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {out.ndim} dims. Maybe you "
                                   "wanted to use the vjp or jacrev APIs instead?")
            plain = prep.plain(out)
            seed = _wrap(np.ones(plain._data.shape, plain._data.dtype))
            gs = prep.grads([plain], [seed], prep.outer)
        gs = [V.rewrap(g if prep.outer else _detach(g), prep.levels) for g in gs]
        value = out if prep.outer else V.rewrap(_detach(plain), prep.levels)
        g = _unflatten(gs, spec)
        g = g if isinstance(argnums, tuple) else g[0]
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function with respect to ``argnums`` (`torch.func.grad`).

    >>> import ndgrad
    >>> ndgrad.func.grad(lambda x: (x ** 2).sum())(ndgrad.tensor([1., 2.]))
    tensor([2., 4.])
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def _to_new_levels(t: Tensor, levels, batch_dims_first: bool):
    """Move the batches of vmap levels newer than ``levels`` between physical and logical form.

    With ``batch_dims_first`` (a cotangent going in): a tensor batched at ``levels`` and at
    newer ones becomes a tensor batched at the newer ones only, whose logical shape carries the
    ``levels`` batches in front. Without it (a gradient coming out): the reverse.
    """
    k = len(levels)
    if batch_dims_first:
        new = [lv for lv in V.active_levels() if lv not in levels and V.has_level(t, lv)]
        plain, _ = V.unwrap_all(V.ensure_levels(t, sorted(levels + new)))
        # physical order: the older levels first, then the new ones; bring the new ones forward
        for j in range(len(new)):
            plain = V.movedim(plain, k + j, j)
        return V.rewrap(plain, new), new
    plain, new = V.unwrap_all(t)
    m = len(new)
    for i in range(k):
        plain = V.movedim(plain, m + i, i)
    return V.rewrap(plain, sorted(levels + new)), new


def vjp(func: Callable, *primals, has_aux: bool = False):
    """``func(*primals)`` and a function that pulls cotangents back to the primals
    (`torch.func.vjp`)."""
    leaves, spec = _flatten(primals)
    with enable_grad():
        prep = _Prepared(leaves)
        out = func(*_unflatten(prep.wrapped, spec))
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: "
                               "(output, aux) if has_aux is True")
        out, aux = out
    outs, ospec = _flatten(out)
    for o in outs:
        if not isinstance(o, Tensor):
            raise RuntimeError("vjp(f, *primals): Expected f(*primals) to return only tensors, "
                               f"got unsupported type {type(o)}")
    plains = [prep.plain(o) for o in outs]

    def vjp_fn(cotangents):
        cts, cspec = _flatten(cotangents)
        if cspec != ospec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{_tree_str(cspec)}, primal output: {_tree_str(ospec)}")
        seeds, new = [], set()
        for i, (c, o) in enumerate(zip(cts, outs)):
            if c.shape != o.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {c.shape} "
                                   f"and output[{i}] has a shape of {o.shape}.")
            s, lv = _to_new_levels(c, prep.levels, True)
            seeds.append(s)
            new.update(lv)
        # NOTE: a cotangent batched by a newer vmap runs the backward with create_graph, so the
        # rules go through the batching rules: one batched backward, not a loop.
        batched = bool(new)
        graph = prep.outer or batched or any(s.requires_grad for s in seeds)
        with enable_grad():
            gs = prep.grads(plains, seeds, graph)
        res = []
        for g in gs:
            if not batched:
                g = V.rewrap(g if graph else _detach(g), prep.levels)
            else:
                g = V.ensure_levels(g, sorted(new))
                g, _ = _to_new_levels(g, prep.levels, False)
                if not prep.outer:
                    g = _detach(g)
            res.append(g)
        return _unflatten(res, spec)

    if not prep.outer:
        out = _unflatten([V.rewrap(_detach(p), prep.levels) for p in plains], ospec)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


# ---------------------------------------------------------------------------------------------
# Forward mode and Jacobians
# ---------------------------------------------------------------------------------------------

def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``func(*primals)`` and its Jacobian applied to ``tangents``, by forward-mode AD
    (`torch.func.jvp`).

    >>> import ndgrad
    >>> ndgrad.func.jvp(lambda x: x ** 2, (ndgrad.tensor([1., 2.]),), (ndgrad.tensor([1., 1.]),))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    if not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected tangents to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    pl, pspec = _flatten(primals)
    tl, tspec = _flatten(tangents)
    head = "jvp(f, primals, tangents)"
    if pspec != tspec:
        raise RuntimeError(f"{head}: Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {_spec_str(pspec)} and "
                           f"tangents with structure {_spec_str(tspec)}")
    for what, leaves in (("primals", pl), ("tangents", tl)):
        if not leaves:
            raise RuntimeError(f"{head}: Expected {what} to contain at least one Tensor.")
        for x in leaves:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{head}: Expected {what} to only contain Tensors, got "
                                   f"{type(x)}")
    for p, t in zip(pl, tl):
        for what, x in (("primal", p), ("tangent", t)):
            if x._data.dtype.kind not in "fc":
                raise ValueError(f"Expected {what} to be floating point or complex, but got: "
                                 f"{x.dtype}")
        if p.shape != t.shape:
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is of "
                               f"size {list(p.shape)} while the given forward gradient is of size "
                               f"{list(t.shape)}.")
    if fwAD._Level.current is not None:
        return _jvp_by_vjp(func, primals, tangents, has_aux)
    # NOTE: dual tensors are made on the plain tensors under the active vmaps (whose leading
    # dimensions are the batches), so every batching rule's physical ops carry the tangents:
    # a vmap over tangents alone (jacfwd) is one batched forward pass.
    levels = V.active_levels()
    outer = state.enabled and any(x.requires_grad for x in pl + tl)
    with fwAD.dual_level():
        duals = []
        for p, t in zip(pl, tl):
            pp = V.unwrap_all(V.ensure_levels(p, levels))[0]
            tt = V.unwrap_all(V.ensure_levels(t, levels))[0]
            duals.append(V.rewrap(fwAD.make_dual(pp, tt), levels))
        out = func(*_unflatten(duals, pspec))
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("jvp(f, primals, tangents): output of function f should be a "
                                   "tuple: (output, aux) if has_aux is True")
            out, aux = out
        outs, ospec = _flatten(out)
        prims, tans = [], []
        for o in outs:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{head}: expected f(*primals) to return only tensors, got "
                                   f"unsupported type {type(o)}")
            primal, tan = fwAD.unpack_dual(V.unwrap_all(V.ensure_levels(o, levels))[0])
            if tan is None:
                tan = _zeros_like(primal)
            if not outer:
                primal, tan = primal.detach(), tan.detach()
            prims.append(V.rewrap(primal, levels))
            tans.append(V.rewrap(tan, levels))
    result = (_unflatten(prims, ospec), _unflatten(tans, ospec))
    return result + (aux,) if has_aux else result


def _jvp_by_vjp(func, primals, tangents, has_aux):
    """``jvp`` inside a level of forward AD, which cannot nest: the vjp of a vjp."""
    # NOTE: the vjp is linear in its cotangent, so differentiating it with respect to the
    # cotangent, seeded with the tangents, gives J @ tangents; the enclosing level's tangents
    # flow through both reverse passes.
    aux_box = []

    def f(*xs):
        r = func(*xs)
        if has_aux:
            if not (isinstance(r, tuple) and len(r) == 2):
                raise RuntimeError("jvp(f, primals, tangents): output of function f should be a "
                                   "tuple: (output, aux) if has_aux is True")
            r, a = r
            aux_box.append(a)
        return r
    out, pull = vjp(f, *primals)
    outs, ospec = _flatten(out)

    def pulled(*us):
        return _flatten(pull(_unflatten(list(us), ospec)))[0]
    _, push = vjp(pulled, *[_zeros_like(o) for o in outs])
    tan = push(_flatten(tangents)[0])
    result = (out, _unflatten(list(tan), ospec))
    return result + (aux_box[0],) if has_aux else result


def _zeros_like(t: Tensor) -> Tensor:
    from . import _creation
    return _creation.zeros_like(t)


def _basis(t: Tensor) -> Tensor:
    """The identity, shaped ``(t.numel(),) + t.shape``: one unit vector per element of ``t``."""
    n = t.numel()
    eye = np.eye(n, dtype=t._data.dtype).reshape((n,) + tuple(t.shape))
    return _wrap(eye)


def _jac_structure(per_out, outs_spec, nums, argnums):
    """Nest per-output, per-input blocks as torch.func does: outputs outside, inputs inside."""
    blocks = []
    for row in per_out:
        inner = _unflatten(row[1], row[0])
        blocks.append(inner if isinstance(argnums, tuple) else inner[0])
    return _unflatten(blocks, outs_spec)


def _partial(func, args, nums):
    def f(*diff):
        new = list(args)
        for i, x in zip(nums, diff):
            new[i] = x
        return func(*new)
    return f


def jacrev(func: Callable, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None,
           _preallocate_and_copy: bool = False) -> Callable:
    """The Jacobian of ``func`` by reverse mode: one batched vjp (`torch.func.jacrev`).

    >>> import ndgrad
    >>> ndgrad.func.jacrev(lambda x: x * 3)(ndgrad.tensor([1., 2.]))
    tensor([[3., 0.],
            [0., 3.]])
    """
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args))
        diff = tuple(args[i] for i in nums)
        res = vjp(_partial(func, args, nums), *diff, has_aux=has_aux)
        out, pull = res[0], res[1]
        outs, ospec = _flatten(out)
        per_out = []
        for i, o in enumerate(outs):
            cts = [_basis(o) if j == i else _zeros_like(other) for j, other in enumerate(outs)]
            in_dims = tuple(0 if j == i else None for j in range(len(outs)))
            pulled = vmap(lambda *c: pull(_unflatten(list(c), ospec)), in_dims=in_dims)(*cts)
            leaves, spec = _flatten(pulled)
            blocks = [g.reshape(tuple(o.shape) + tuple(x.shape))
                      for g, x in zip(leaves, _flatten(diff)[0])]
            per_out.append((spec, blocks))
        jac = _jac_structure(per_out, ospec, nums, argnums)
        return (jac, res[2]) if has_aux else jac
    return wrapper


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """The Jacobian of ``func`` by forward mode: one batched jvp per input (`torch.func.jacfwd`)."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args))
        diff = tuple(args[i] for i in nums)
        leaves, spec = _flatten(diff)
        f = _partial(func, args, nums)
        columns = []  # per input leaf: the outputs' leaves, each (n_in, *out_shape)
        for k, x in enumerate(leaves):
            basis = _basis(x)

            def push(t, k=k):
                tans = [t if j == k else _zeros_like(y) for j, y in enumerate(leaves)]
                r = jvp(f, diff, _unflatten(tans, spec), has_aux=has_aux)
                return r[1]
            columns.append(_flatten(vmap(push)(basis))[0])
        out = f(*diff)
        aux = None
        if has_aux:
            out, aux = out
        outs, ospec = _flatten(out)
        per_out = []
        for i, o in enumerate(outs):
            blocks = []
            for k, x in enumerate(leaves):
                c = columns[k][i]  # (n_in, *out_shape)
                n = x.numel()
                c = V.movedim(c.reshape((n, o.numel())), 0, 1)
                blocks.append(c.reshape(tuple(o.shape) + tuple(x.shape)))
            per_out.append((spec, blocks))
        jac = _jac_structure(per_out, ospec, nums, argnums)
        return (jac, aux) if has_aux else jac
    return wrapper


def hessian(func: Callable, argnums=0) -> Callable:
    """The Hessian of a scalar function: ``jacfwd(jacrev(func))`` (`torch.func.hessian`)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---------------------------------------------------------------------------------------------
# functional_call
# ---------------------------------------------------------------------------------------------

def functional_call(module: Callable, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """Call ``module`` with the given named tensors (`torch.func.functional_call`).

    ndgrad has no ``nn.Module``, so ``module`` is a callable that takes the merged dict of
    tensors first: ``module(params, *args, **kwargs)``; transforms then differentiate or map
    over the dict's tensors.
    """
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, (tuple, list)):
        merged: dict = {}
        for d in dicts:
            for k in d:
                if k in merged:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                     "functional call is ambiguous")
            merged.update(d)
        dicts = merged
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    return module(dicts, *args, **(kwargs or {}))
