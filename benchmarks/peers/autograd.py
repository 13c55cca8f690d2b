"""The workloads in HIPS autograd: autograd.numpy functions differentiated with value_and_grad."""
import autograd.numpy as np
from autograd import grad, value_and_grad
from autograd.scipy.signal import convolve
from autograd.scipy.special import logsumexp

from workloads import LR, data


def _xent(logits, y):
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    return -np.mean(logp[np.arange(len(y)), y])


def _trainer(loss_fn, params):
    """A zero-argument SGD step on params kept between calls."""
    step_grad = value_and_grad(loss_fn)

    def step():
        loss, grads = step_grad(params)
        for i, g in enumerate(grads):
            params[i] = params[i] - LR * g
        return float(loss)
    return step


def seed_regression():
    x = np.array([1, 2, 3, 4, 5], np.float32)
    y = np.array([3, 5, 7, 9, 11], np.float32)
    epoch = value_and_grad(lambda ab: np.mean((ab[0] * x + ab[1] - y) ** 2))

    def run():
        a, b = np.ones(1, np.float32), np.ones(1, np.float32)
        for _ in range(100):
            loss, (ga, gb) = epoch((a, b))
            a, b = a - 0.1 * ga, b - 0.1 * gb
        return float(loss)
    return run


def seed_descent():
    dx = grad(lambda x: x ** 2)

    def run():
        x = np.float32(3.0)
        for _ in range(50):
            x = x - np.float32(0.1) * dx(x)
        return float(x)
    return run


def op_chain():
    def chain(x):
        y = x
        for _ in range(250):
            y = y * 1.001
            y = y + 0.001
            y = np.sin(y)
            y = y - 0.001
        return np.sum(y)
    dchain = grad(chain)
    return lambda: float(dchain(np.array([0.5], np.float32))[0])


def mlp_step():
    d = data("mlp_step")
    x, y = d["x"], d["y"]

    def loss_fn(params):
        w1, b1, w2, b2, w3, b3 = params
        h = np.maximum(np.dot(x, w1) + b1, 0)
        h = np.maximum(np.dot(h, w2) + b2, 0)
        return _xent(np.dot(h, w3) + b3, y)
    return _trainer(loss_fn, d["params"])


def blas_step():
    d = data("blas_step")
    x, params = d["x"], d["params"]

    def loss_fn(params):
        h = x
        for w in params:
            h = np.tanh(np.dot(h, w))
        return np.sum(h)
    step_grad = value_and_grad(loss_fn)
    return lambda: float(step_grad(params)[0])


def scalar_mlp_step():
    d = data("scalar_mlp_step")
    xs, ys = d["x"].tolist(), d["y"].tolist()
    shapes = [w.shape for w in d["params"][::2]]

    def loss_fn(params):
        layers, it = [], iter(params)
        for n_out, n_in in shapes:
            w = [[next(it) for _ in range(n_in)] for _ in range(n_out)]
            layers.append((w, [next(it) for _ in range(n_out)]))
        losses = []
        for x, y in zip(xs, ys):
            h = x
            for k, (w, b) in enumerate(layers):
                h = [sum((wi * hi for wi, hi in zip(row, h)), bj) for row, bj in zip(w, b)]
                if k < len(layers) - 1:
                    h = [np.maximum(a, 0.0) for a in h]
            losses.append(np.maximum(1 + -y * h[0], 0.0))
        return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
    params = [v for w, b in zip(d["params"][::2], d["params"][1::2]) for v in w.ravel().tolist() + b.tolist()]
    return _trainer(loss_fn, params)


def conv_step():
    d = data("conv_step")
    x, y = d["x"], d["y"]

    def conv(h, w, b):
        # NOTE: convolve flips its kernel (a true convolution); flipping w back gives PyTorch's
        # cross-correlation with the same weights. Layout as in autograd's examples/convnet.py.
        w = np.transpose(w[:, :, ::-1, ::-1], (1, 0, 2, 3))
        return convolve(h, w, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid") + b[:, None, None]

    def pool(h):
        n, c, hh, ww = h.shape
        h = h[:, :, :hh // 2 * 2, :ww // 2 * 2]
        return np.max(np.max(np.reshape(h, (n, c, hh // 2, 2, ww // 2, 2)), axis=3), axis=4)

    def loss_fn(params):
        w1, b1, w2, b2, w3, b3 = params
        h = pool(np.maximum(conv(x, w1, b1), 0))
        h = pool(np.maximum(conv(h, w2, b2), 0))
        return _xent(np.dot(np.reshape(h, (h.shape[0], -1)), w3) + b3, y)
    return _trainer(loss_fn, d["params"])


WORKLOADS = {"seed_regression": seed_regression, "seed_descent": seed_descent, "op_chain": op_chain,
             "mlp_step": mlp_step, "blas_step": blas_step, "scalar_mlp_step": scalar_mlp_step,
             "conv_step": conv_step}
