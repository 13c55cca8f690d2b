"""``ndgrad.utils``: helpers around autograd (`torch.utils`); ``checkpoint`` trades compute for
memory."""
from . import checkpoint

__all__ = ["checkpoint"]
