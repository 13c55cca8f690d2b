"""The guided tour: the seed's seven sections on autograd, each snippet shown and run.

Run it with ``python -m ndgrad tour``. Section 7 also explains, with numbers, why the classic
``lr=0.1`` linear-regression example diverges and which learning rates converge.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import textwrap

import numpy as np

SECTIONS = [
    ("1. Leaf tensors cannot be changed in place; detach() shares storage", """\
t = torch.tensor([1, 2, 3], dtype=torch.float, requires_grad=True)
try:
    t[0] = 10
except RuntimeError as e:
    print("RuntimeError:", e)
t1 = t.detach()   # same storage, no history
t1[0] = 10
print(t1)
print(t)          # the leaf sees the change made through t1
"""),
    ("2. backward() on a scalar; only floating tensors can require gradients", """\
try:
    torch.tensor(2, requires_grad=True)
except RuntimeError as e:
    print("RuntimeError:", e)
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2
y.backward()
print(x.grad)     # dy/dx = 2x = 4
"""),
    ("3. A non-scalar output needs an explicit gradient", """\
x = torch.tensor([1, 2, 3], requires_grad=True, dtype=torch.float)
y = x ** 2
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
z = y.mean()
z.backward()
print(x.grad)     # d mean(x**2)/dx = 2x/3
x.grad.zero_()
y = x ** 2
y.backward(torch.tensor([1.0, 1.0, 1.0]))   # the vector in the vector-Jacobian product
print(x.grad)
x1 = torch.tensor([1, 2, 3], requires_grad=True, dtype=torch.float)
x2 = torch.tensor([2, 3, 4], requires_grad=True, dtype=torch.float)
y = x1**2 + 2*x2
z = y.sum()
z.backward()
print(x1.grad, x2.grad)
print(y)
print(z)
"""),
    ("4. Operations are recorded unless torch.no_grad() is active", """\
x = torch.tensor(5.0, requires_grad=True)
y = x**2
print(y.requires_grad, y.is_leaf, x.is_leaf)
with torch.no_grad():
    y = x**2
    print(y.requires_grad)
print(torch.is_grad_enabled())
"""),
    ("5. Gradients accumulate in .grad until zeroed", """\
x = torch.tensor([1, 2, 3], requires_grad=True, dtype=torch.float)
for epoch in range(3):
    (x ** 2).sum().backward()
    print(x.grad)
for epoch in range(2):
    x.grad.zero_()
    (x ** 2).sum().backward()
    print(x.grad)
"""),
    ("6. Gradient descent on y = x**2", """\
x = torch.tensor(3.0, requires_grad=True)
lr = 0.1
listx, listy = [], []
for epoch in range(50):
    y = x ** 2
    listx.append(x.item())     # record the point (x, y) before the step, so it lies on the curve
    listy.append(y.item())
    if x.grad is not None:
        x.grad.zero_()
    y.backward()
    with torch.no_grad():
        x -= lr * x.grad       # each step multiplies x by (1 - 2*lr) = 0.8
    if epoch % 10 == 9:
        print(f'epoch: {epoch}, x: {x}')
"""),
    ("7. Fitting y = a*x + b by gradient descent", """\
x = torch.tensor([1, 2, 3, 4, 5], dtype=torch.float)
y = torch.tensor([3, 5, 7, 9, 11], dtype=torch.float)

def fit(lr, epochs):
    a = torch.tensor([1], dtype=torch.float, requires_grad=True)
    b = torch.tensor([1], dtype=torch.float, requires_grad=True)
    for epoch in range(epochs):
        loss = ((a * x + b - y) ** 2).mean()
        if a.grad is not None:
            a.grad.zero_()
            b.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
    return a.item(), b.item(), loss.item()

print("lr=0.1,  100 epochs: a=%.4g, b=%.4g, loss=%.4g" % fit(0.1, 100))
print("lr=0.08, 2000 epochs: a=%.6f, b=%.6f, loss=%.3g" % fit(0.08, 2000))
"""),
]


def _run(code: str, env: dict) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<tour>", "exec"), env)
    return buf.getvalue()


def _plot(listx, listy) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("(the scatter plot needs matplotlib: pip install 'ndgrad[plot]')")
    fig, ax = plt.subplots(figsize=(5, 4))
    grid = np.linspace(-3.2, 3.2, 200)
    ax.plot(grid, grid ** 2, color="0.8", label="y = x**2")
    ax.scatter(listx, listy, s=12, label="gradient descent, lr=0.1")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    path = os.path.join(tempfile.gettempdir(), "ndgrad-tour-descent.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"scatter plot written to {path}"


def _why_it_diverges() -> str:
    xs = np.arange(1.0, 6.0)
    # The loss (1/n) sum (a x + b - y)^2 is quadratic with Hessian (2/n) [[sum x^2, sum x], [sum x, n]].
    h = 2 / len(xs) * np.array([[np.sum(xs ** 2), np.sum(xs)], [np.sum(xs), len(xs)]])
    lo, hi = np.linalg.eigvalsh(h)
    return textwrap.dedent(f"""\
        Why lr=0.1 diverges: the loss is a quadratic bowl whose Hessian is
          [[{h[0, 0]:.0f}, {h[0, 1]:.0f}], [{h[1, 0]:.0f}, {h[1, 1]:.0f}]], with eigenvalues L = {hi:.2f} and {lo:.3f}.
        Each step multiplies the error along the steep direction by (1 - lr * L):
          lr = 0.1  gives 1 - 0.1 * {hi:.2f} = {1 - 0.1 * hi:.3f}; |{1 - 0.1 * hi:.3f}| > 1, so it grows
                    {abs(1 - 0.1 * hi):.3f}x per epoch and the loss {abs(1 - 0.1 * hi) ** 2:.2f}x: divergence.
        Gradient descent on a quadratic converges only when lr < 2 / L = {2 / hi:.4f}.
        Below that it converges to the exact fit a = 2, b = 1; the flat direction (eigenvalue
        {lo:.3f}) sets the pace, which is why lr = 0.08 needs a couple of thousand epochs.""")


def main() -> None:
    import ndgrad
    env = {"torch": ndgrad}
    print("ndgrad tour: PyTorch's autograd on NumPy. Every snippet runs with `import ndgrad as torch`.\n")
    for title, code in SECTIONS:
        print("=" * 78)
        print(title)
        print("-" * 78)
        print(textwrap.indent(code.rstrip(), "  >>> ", lambda line: True).replace(">>>     ", "...     "))
        print("-" * 78)
        print(_run(code, env).rstrip())
        if title.startswith("6."):
            print(_plot(env["listx"], env["listy"]))
        if title.startswith("7."):
            print()
            print(_why_it_diverges())
        print()


if __name__ == "__main__":
    main()
