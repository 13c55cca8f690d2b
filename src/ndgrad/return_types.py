"""Named result tuples, as in ``torch.return_types``: ``values``/``indices`` pairs returned by
max, min, median, sort and topk (``..._out`` when written into ``out=`` tensors). They unpack
like tuples and print like PyTorch's."""
from __future__ import annotations

import operator

__all__ = ["max", "min", "median", "sort", "topk", "max_out", "min_out", "median_out", "sort_out",
           "topk_out"]


class _StructSeq(tuple):
    """A tuple with named fields (PyTorch's structseq): built from one sequence."""

    __slots__ = ()
    _fields: tuple = ()

    def __new__(cls, sequence):
        t = tuple.__new__(cls, sequence)
        if len(t) != len(cls._fields):
            raise TypeError(f"torch.return_types.{cls.__name__}() takes a {len(cls._fields)}-"
                            f"sequence ({len(t)}-sequence given)")
        return t

    def __repr__(self) -> str:
        body = ",\n".join(f"{k}={v!r}" for k, v in zip(self._fields, self))
        return f"torch.return_types.{type(self).__name__}(\n{body})"

    def __reduce__(self):
        return type(self), (tuple(self),)


def _structseq(name: str, fields: tuple) -> type:
    ns = {"__slots__": (), "_fields": fields, "n_fields": len(fields),
          "n_sequence_fields": len(fields), "n_unnamed_fields": 0, "__module__": __name__}
    for i, f in enumerate(fields):
        ns[f] = property(operator.itemgetter(i))
    return type(name, (_StructSeq,), ns)


_VI = ("values", "indices")
max = _structseq("max", _VI)
min = _structseq("min", _VI)
median = _structseq("median", _VI)
sort = _structseq("sort", _VI)
topk = _structseq("topk", _VI)
max_out = _structseq("max_out", _VI)
min_out = _structseq("min_out", _VI)
median_out = _structseq("median_out", _VI)
sort_out = _structseq("sort_out", _VI)
topk_out = _structseq("topk_out", _VI)
