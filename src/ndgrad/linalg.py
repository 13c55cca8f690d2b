"""``ndgrad.linalg``: linear-algebra functions (`torch.linalg`)."""
from ._linalg import *  # noqa: F401,F403
