"""``ndgrad.autograd.functional``: Jacobians, Hessians and their products for whole functions
(`torch.autograd.functional`). ``vectorize=True`` runs one batched backward through vmap."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name=None, fn_name=None):
    from .._tensor import Tensor
    if arg_name is None and fn_name is None:
        return inp if isinstance(inp, tuple) else tuple(inp) if isinstance(inp, list) else (inp,)
    is_tuple = isinstance(inp, tuple)
    if not is_tuple:
        inp = (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {i} has type {type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    # NOTE: with create_graph a fresh view keeps the caller's graph but gives this call its own
    # node to differentiate against; otherwise a detached copy of the reference does.
    return tuple(inp.reshape(inp.shape) if create_graph and inp.requires_grad
                 else inp.detach().requires_grad_(need_graph) for inp in inputs)


def _grad_postprocess(inputs, create_graph):
    from .._tensor import Tensor
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.size()} but got "
                               f"{el_v.size()}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input "
                               f"{i}. This is not allowed in strict mode.")
        if not inp.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(
                    f"The hessian of the user-provided function with respect to input {i} is "
                    "independent of the input. This is not allowed in strict mode. You should "
                    "ensure that your function is thrice differentiable and that the hessian "
                    "depends on the inputs.")
            if input_type == "jacobian":
                raise RuntimeError(
                    "While computing the hessian, found that the jacobian of the user-provided "
                    f"function with respect to input {i} is independent of the input. This is not "
                    "allowed in strict mode. You should ensure that your function is twice "
                    "differentiable and that the jacobian depends on the inputs (this would be "
                    "violated by a linear function for example).")
            if input_type == "grad_inputs":
                raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                                   "inputs of the user-provided function. This is not allowed in "
                                   "strict mode.")
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``autograd.grad`` over the outputs that require grad; Nones for unreachable inputs."""
    from . import grad
    from .._vmap import BatchedTensor
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    # NOTE: cotangents batched by vmap need the rules to run on tensors (create_graph), which
    # is how their batch dimension reaches the batching rules; the result is detached after.
    batched = any(type(g) is BatchedTensor for _, g in pairs)
    res = grad(tuple(o for o, _ in pairs), inputs, tuple(g for _, g in pairs), allow_unused=True,
               create_graph=create_graph or batched,
               retain_graph=True if batched and retain_graph is None else retain_graph)
    if batched and not create_graph:
        res = tuple(None if r is None else r.detach() for r in res)
    return res


_STAGE_MSG = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This "
                   "is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} "
                         "in the grad_jacobian. This is not allowed in strict mode as it prevents "
                         "from using the double backward trick to replace forward mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    from .._creation import zeros_like
    res = ()
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_STAGE_MSG[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input "
                               f"{i}. This is not allowed in strict mode when create_graph=True.")
        res += (g,)
    return res


def _vector_product(of, wrt, v, inputs, outputs, stage, create_graph, strict,
                    is_outputs_tuple, is_inputs_tuple):
    """The end of vjp, vhp and hvp: ``v``'s product with the gradient of ``of`` with respect to
    ``wrt`` (zeros where ``inputs`` were unused), and the outputs, shaped as the user gave them."""
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(of, wrt, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, stage)
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``func(inputs)`` and the vector-Jacobian product ``v^T J`` (`torch.autograd.functional.vjp`).

    >>> import ndgrad
    >>> vjp(lambda x: x ** 2, ndgrad.tensor([1., 2.]), ndgrad.ones(2))[1]
    tensor([2., 4.])
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
    return _vector_product(outputs, inputs, v, inputs, outputs, "back", create_graph, strict,
                           is_outputs_tuple, is_inputs_tuple)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``func(inputs)`` and the Jacobian-vector product ``J v`` (`torch.autograd.functional.jvp`),
    by the double backward trick."""
    return _back_trick_jvp(func, inputs, v, create_graph, strict)


def _as_forward_ad_error(exc: RuntimeError):
    """PyTorch's error, in forward mode, for the reverse-mode error ``exc``: an op with no
    derivative of its own has no forward-mode formula either."""
    msg = str(exc)
    if msg.startswith("derivative for ") and msg.endswith(" is not implemented"):
        name = msg[len("derivative for "):-len(" is not implemented")]
        return NotImplementedError(f"Trying to use forward AD with {name} that does not support "
                                   "it.")
    return exc


def _back_trick_jvp(func, inputs, v, create_graph, strict, forward_over_reverse=False):
    """`jvp`'s work. ``forward_over_reverse``: ``func`` runs a reverse pass (hessian's forward-mode
    outer Jacobian), whose ops PyTorch differentiates by forward AD. Backward passes through them
    then fail with forward AD's errors, and the products keep, as PyTorch's tangents do, a graph
    back to the inputs' detached copies (never to the inputs themselves)."""
    try:
        return _back_trick(func, inputs, v, create_graph, strict, forward_over_reverse)
    except RuntimeError as exc:
        if not forward_over_reverse:
            raise
        err = _as_forward_ad_error(exc)
        if err is exc:
            raise
        raise err from None


def _back_trick(func, inputs, v, create_graph, strict, keep_graph):
    from .._creation import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        grad_outputs = tuple(zeros_like(out).requires_grad_() for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    graph = create_graph or keep_graph
    with set_grad_enabled(True if graph else is_grad_enabled()):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=graph)
        res = _fill_in_zeros(grad_res, outputs, strict, graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_outputs_tuple)


def _standard_basis(tensors, numels):
    """One identity block per tensor, ``(total, numel_i)``: row k is unit vector k of the
    concatenation of all the tensors."""
    from .._tensor import _wrap
    total = sum(numels)
    chunks, start = [], 0
    for t, n in zip(tensors, numels):
        c = np.zeros((total, n), t._data.dtype)
        c[np.arange(start, start + n), np.arange(n)] = 1
        chunks.append(_wrap(c))
        start += n
    return tuple(chunks)


def _split_rows(t, numels):
    out, start = [], 0
    for n in numels:
        out.append(t[start:start + n])
        start += n
    return out


def _jacfwd(func, inputs, strict, vectorize, double_back=False):
    from .. import func as F
    from .._vmap import movedim
    if strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`strategy=\"forward-mode\"` are not supported together (yet). Please "
                           "either set `strict=False` or `strategy=\"reverse-mode\"`.")
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian isonly implemented for `vectorize=True`.")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    numels = tuple(i.numel() for i in inputs)
    tangents = _standard_basis(inputs, numels)
    info = []

    def push(*tans):
        # NOTE: forward AD, as PyTorch's: the double backward trick would also need the
        # derivatives of the backward formulas, which some ops lack (hardsigmoid's). Forward
        # over reverse (hessian's `double_back`) takes the trick: forward AD does not reach
        # through a reverse pass under vmap here.
        tans = tuple(t.reshape(i.shape) for t, i in zip(tans, inputs))
        if double_back:
            out, jv = _back_trick_jvp(func, tuple(inputs), tans, False, False, True)
        else:
            out, jv = F.jvp(func, tuple(inputs), tans)
        is_tuple, outs = _as_tuple(out, "outputs")
        info[:] = [is_tuple, outs]
        return _as_tuple(jv)
    before_split = F.vmap(push)(*tangents)
    is_outputs_tuple, outputs = info
    result = []
    for jac_i, out_i in zip(before_split, outputs):
        row = []
        for jac, inp in zip(_split_rows(jac_i, numels), inputs):
            n = jac.shape[0]
            m = jac.reshape(n, -1)
            row.append(movedim(m, 0, 1).reshape(tuple(out_i.shape) + tuple(inp.shape)))
        result.append(row)
    return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs`` (`torch.autograd.functional.jacobian`).

    >>> import ndgrad
    >>> jacobian(lambda x: x * 2, ndgrad.tensor([1., 2.]))
    tensor([[2., 0.],
            [0., 2.]])
    """
    from .. import func as F
    from .._creation import zeros_like
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError("Expected strategy to be either \"forward-mode\" or \"reverse-mode\". "
                             "Hint: If your function has more outputs than inputs, \"forward-mode\" "
                             "tends to be more performant. Otherwise, prefer to use "
                             "\"reverse-mode\".")
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                "`strategy=\"forward-mode\"` are not supported together (yet). Please either set "
                "`create_graph=False` or `strategy=\"reverse-mode\"`.")
        return _jacfwd(func, inputs, strict, vectorize)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize:
            if strict:
                raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                                   "`vectorized=True` are not supported together. Please either "
                                   "set `strict=False` or `vectorize=False`.")
            numels = tuple(o.numel() for o in outputs)
            grad_outputs = _standard_basis(outputs, numels)
            flat_outputs = tuple(o.reshape(-1) for o in outputs)

            def pull(*gos):
                vj = list(_autograd_grad(flat_outputs, inputs, gos, create_graph=create_graph,
                                         retain_graph=True))
                return tuple(zeros_like(inputs[k]) if g is None else g for k, g in enumerate(vj))
            by_input = F.vmap(pull)(*grad_outputs)
            result = []
            for jac_i, inp in zip(by_input, inputs):
                result.append([jac.reshape(tuple(out.shape) + tuple(inp.shape)) for jac, out in
                               zip(_split_rows(jac_i, numels), outputs)])
            by_output = tuple(zip(*result))
            by_output = _grad_postprocess(by_output, create_graph)
            return _tuple_postprocess(by_output, (is_outputs_tuple, is_inputs_tuple))
        jac = ()
        for i, out in enumerate(outputs):
            rows = tuple([] for _ in inputs)
            flat = out.reshape(-1)
            for j in range(out.nelement()):
                vj = _autograd_grad((flat[j],), inputs, retain_graph=True,
                                    create_graph=create_graph)
                for k, (row, g, inp) in enumerate(zip(rows, vj, inputs)):
                    if g is not None:
                        if strict and create_graph and not g.requires_grad:
                            raise RuntimeError(
                                f"The jacobian of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode when "
                                "create_graph=True.")
                        row.append(g)
                    else:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not allowed in "
                                               "strict mode.")
                        row.append(zeros_like(inp))
            jac += (tuple(_stack_rows(row, inp).reshape(tuple(out.shape) + tuple(inp.shape))
                          for row, inp in zip(rows, inputs)),)
        jac = _grad_postprocess(jac, create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _stack_rows(row, inp):
    from .._tensor import _wrap
    from .._vmap import stack
    if not row:
        return _wrap(np.zeros((0,) + tuple(inp.shape), inp._data.dtype))
    return stack(row)


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function (`torch.autograd.functional.hessian`).

    >>> import ndgrad
    >>> hessian(lambda x: (x ** 3).sum(), ndgrad.tensor([1., 2.]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    from .._tensor import Tensor
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError("Expected strategy to be either \"forward-mode\" or \"reverse-mode\".")

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.reshape(())

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac
    if outer_jacobian_strategy == "forward-mode" and not create_graph:
        res = _jacfwd(jac_func, inputs, strict, vectorize, double_back=True)
    else:
        res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                       vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _single_output(outputs, is_outputs_tuple, name):
    from .._tensor import Tensor
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should contain a "
                           "single element")


def _gradient_of_scalar(func, inputs, v, create_graph, strict, name):
    """The first half vhp and hvp share (call it under enable_grad): checked inputs and
    ``v``, the scalar output, and its gradient with a graph."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].nelement() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                          name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    _single_output(outputs, is_outputs_tuple, name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``func(inputs)`` and the vector-Hessian product ``v^T H`` (`torch.autograd.functional.vhp`)."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _gradient_of_scalar(
            func, inputs, v, create_graph, strict, "vhp")
    return _vector_product(jac, inputs, v, inputs, outputs, "double_back", create_graph, strict,
                           is_outputs_tuple, is_inputs_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``func(inputs)`` and the Hessian-vector product ``H v`` (`torch.autograd.functional.hvp`)."""
    from .._creation import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _gradient_of_scalar(
            func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(zeros_like(inp).requires_grad_() for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    return _vector_product(double_back, grad_jac, v, inputs, outputs, "double_back_trick",
                           create_graph, strict, is_outputs_tuple, is_inputs_tuple)
