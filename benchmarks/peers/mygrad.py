"""The workloads in MyGrad: mygrad tensors, Tensor.backward, in-place SGD on Tensor.data."""
import mygrad as mg
import numpy as np
from mygrad.nnet.activations import relu
from mygrad.nnet.layers import conv_nd, max_pool
from mygrad.nnet.losses import softmax_crossentropy

from workloads import LR, data


def _pool(h):
    """2x2 max pool, stride 2; MyGrad needs whole windows, so drop the odd last row and column."""
    return max_pool(h[:, :, :h.shape[2] // 2 * 2, :h.shape[3] // 2 * 2], (2, 2), 2)


def _trainer(loss_fn, arrays):
    """A zero-argument SGD step on tensors kept between calls."""
    params = [mg.tensor(a) for a in arrays]

    def step():
        loss = loss_fn(params)
        loss.backward()  # NOTE: MyGrad clears a tensor's grad when it enters a new graph
        for p in params:
            p.data -= LR * p.grad
        return loss.item()
    return step


def seed_regression():
    x = mg.tensor([1, 2, 3, 4, 5], dtype=np.float32)
    y = mg.tensor([3, 5, 7, 9, 11], dtype=np.float32)

    def run():
        a, b = mg.tensor([1.0], dtype=np.float32), mg.tensor([1.0], dtype=np.float32)
        for _ in range(100):
            loss = mg.mean((a * x + b - y) ** 2)
            loss.backward()
            a.data -= 0.1 * a.grad
            b.data -= 0.1 * b.grad
        return loss.item()
    return run


def seed_descent():
    def run():
        x = mg.tensor(3.0, dtype=np.float32)
        for _ in range(50):
            y = x ** 2
            y.backward()
            x.data -= np.float32(0.1) * x.grad
        return x.item()
    return run


def op_chain():
    def run():
        x = mg.tensor([0.5], dtype=np.float32)
        y = x
        for _ in range(250):
            y = y * 1.001
            y = y + 0.001
            y = mg.sin(y)
            y = y - 0.001
        mg.sum(y).backward()
        return float(x.grad[0])
    return run


def mlp_step():
    d = data("mlp_step")
    x, y = d["x"], d["y"]

    def loss_fn(params):
        w1, b1, w2, b2, w3, b3 = params
        h = relu(x @ w1 + b1)
        h = relu(h @ w2 + b2)
        return softmax_crossentropy(h @ w3 + b3, y)
    return _trainer(loss_fn, d["params"])


def blas_step():
    d = data("blas_step")
    x = d["x"]
    params = [mg.tensor(w) for w in d["params"]]

    def step():
        h = x
        for w in params:
            h = mg.tanh(h @ w)
        loss = mg.sum(h)
        loss.backward()
        return loss.item()
    return step


def scalar_mlp_step():
    d = data("scalar_mlp_step")
    xs, ys = d["x"].tolist(), d["y"].tolist()
    layers = [([[mg.tensor(v) for v in row] for row in w.tolist()], [mg.tensor(v) for v in b.tolist()])
              for w, b in zip(d["params"][::2], d["params"][1::2])]
    params = [p for w, b in layers for p in [v for row in w for v in row] + b]

    def step():
        losses = []
        for x, y in zip(xs, ys):
            h = x
            for k, (w, b) in enumerate(layers):
                h = [sum((wi * hi for wi, hi in zip(row, h)), bj) for row, bj in zip(w, b)]
                if k < len(layers) - 1:
                    h = [relu(a) for a in h]
            losses.append(relu(1 + -y * h[0]))
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
        return loss.item()
    return step


def conv_step():
    d = data("conv_step")
    x, y = d["x"], d["y"]

    def loss_fn(params):
        w1, b1, w2, b2, w3, b3 = params
        h = _pool(relu(conv_nd(x, w1, stride=1) + b1.reshape(-1, 1, 1)))
        h = _pool(relu(conv_nd(h, w2, stride=1) + b2.reshape(-1, 1, 1)))
        return softmax_crossentropy(h.reshape(h.shape[0], -1) @ w3 + b3, y)
    return _trainer(loss_fn, d["params"])


WORKLOADS = {"seed_regression": seed_regression, "seed_descent": seed_descent, "op_chain": op_chain,
             "mlp_step": mlp_step, "blas_step": blas_step, "scalar_mlp_step": scalar_mlp_step,
             "conv_step": conv_step}
