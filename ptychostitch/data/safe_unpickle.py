"""PtychoPINN's pickled ``_metadata`` string, decoded without running any pickled code.

PtychoPINN stores ``_metadata`` as a 0-d object array holding a JSON ``str``, which ``np.save``
pickles. :func:`unpickle_string` decodes exactly that shape of pickle with a restricted
unpickler that resolves only the four names such a pickle contains, and resolves them to inert
recorders rather than to numpy: no callable of the file's choosing ever runs.
"""

from __future__ import annotations

import io
import pickle
from typing import Any


class RefusedPickle(Exception):
    """The metadata pickle asks for something other than a 0-d object array holding a str."""


class _Recorded:
    """An inert stand-in for a numpy object named in a pickle: it records, it never runs."""

    def __init__(self, kind: str, args: tuple[Any, ...]) -> None:
        self.kind = kind
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _record_reconstruct(*args: Any) -> _Recorded:
    return _Recorded("ndarray", args)


def _record_dtype(*args: Any) -> _Recorded:
    return _Recorded("dtype", args)


def _latin1(text: Any, encoding: Any) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it to spell bytes; only for latin-1 text."""
    if not isinstance(text, str) or encoding != "latin1":
        raise RefusedPickle(f"_codecs.encode called with ({type(text).__name__}, {encoding!r})")
    return text.encode("latin-1")


_NDARRAY = _Recorded("ndarray class", ())


class _MetadataUnpickler(pickle.Unpickler):
    """Decode ``np.save``'s pickle of a 0-d object array holding a ``str``, running nothing.

    ``np.save`` writes such an array as ``_reconstruct(ndarray, (0,), b'b')`` followed by the
    state ``(1, (), dtype('O8'), False, [text])``. The only globals it names are
    ``numpy[._]core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype`` (and
    ``_codecs.encode`` in protocol 2). They resolve to :class:`_Recorded` stand-ins, so the
    result is a record of what the pickle asked for; any other global is refused.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _record_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _record_reconstruct,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _record_dtype,
        ("_codecs", "encode"): _latin1,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"a pickle that calls {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle("a pickle with persistent references")

    def load_string(self) -> str:
        """Unpickle and return the string, or raise :class:`RefusedPickle` describing what was found."""
        top = self.load()
        if not (isinstance(top, _Recorded) and top.kind == "ndarray" and top.args[:1] == (_NDARRAY,)):
            raise RefusedPickle(f"a pickled {type(top).__name__}, not a numpy array")
        state = top.state
        if not (isinstance(state, tuple) and len(state) == 5):
            raise RefusedPickle("a numpy array pickle without the usual state")
        _, shape, dtype, _, data = state
        descr = dtype.args[0] if isinstance(dtype, _Recorded) and dtype.kind == "dtype" and dtype.args else None
        if shape != () or descr != "O8":
            raise RefusedPickle(f"a pickled array of shape {shape} and dtype {descr!r}, not a 0-d object array")
        if not (isinstance(data, list) and len(data) == 1 and type(data[0]) is str):
            held = type(data[0]).__name__ if isinstance(data, list) and len(data) == 1 else "unexpected data"
            raise RefusedPickle(f"a 0-d object array holding {held}, not a str")
        return data[0]



def unpickle_string(payload: bytes) -> str:
    """The ``str`` held by a pickled 0-d object array; :class:`RefusedPickle` for anything else.

    Other malformed pickles raise whatever :mod:`pickle` raises for them (never after running code).
    """
    return _MetadataUnpickler(io.BytesIO(payload)).load_string()

