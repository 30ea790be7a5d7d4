"""Read a downloaded pickle without running code from it.

``pickle.load`` calls whatever global a file names (``os.system`` included), so a tampered
download could run anything. This unpickler admits plain containers and scalars only; NumPy
arrays and scalars are admitted on request, through the reconstructors NumPy itself uses (their
contents go through the same filter, so an object array cannot smuggle a callable either).
Everything else is refused with an error that names the file and the global it asked for.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path

from emollm_plugin.emobench.sources.base import SourceError

# Opcodes for dict/list/tuple/str/bytes/int/float/bool/None need no global lookup at all;
# these are the container types that older protocols build through a global ("__builtin__" is
# the module name Python 2, and Python 3 writing protocols 0-2, put in the file).
_PLAIN_GLOBALS = {
    (module, name): kind
    for module in ("builtins", "__builtin__")
    for name, kind in (("set", set), ("frozenset", frozenset))
}
# Protocols 0-2 written by Python 3 store bytes as _codecs.encode(text, "latin1"): a pure
# text -> bytes conversion.
_PLAIN_GLOBALS[("_codecs", "encode")] = codecs.encode

_NUMPY_NAMES = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class UnsafePickleError(SourceError):
    """The pickle names a global outside the allow-list; it was not executed."""


def _numpy_global(module: str, name: str) -> object:
    import numpy as np

    if module == "numpy":
        return np.ndarray if name == "ndarray" else np.dtype
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray
    return getattr(multiarray, name)


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` only resolves allow-listed globals."""

    def __init__(self, file, path: Path, allow_numpy: bool = False, **kwargs) -> None:
        super().__init__(file, **kwargs)
        self._path = path
        self._allow_numpy = allow_numpy

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _PLAIN_GLOBALS:
            return _PLAIN_GLOBALS[(module, name)]
        if self._allow_numpy and (module, name) in _NUMPY_NAMES:
            return _numpy_global(module, name)
        allowed = "plain containers" + (" and NumPy arrays" if self._allow_numpy else "")
        raise UnsafePickleError(
            f"{self._path}: refused to load: the pickle asks for {module}.{name}, but only {allowed} "
            "are allowed. The file is not the official release (or was tampered with); download it "
            "again from the dataset's homepage"
        )


def load_restricted(path: str | Path, allow_numpy: bool = False) -> object:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`.

    Python 2 pickles store text as bytes; like the releases' own loaders, decoding falls back from
    ASCII to Latin-1 when the default fails.
    """
    path = Path(path)
    last_error: Exception | None = None
    for encoding in ("ASCII", "latin1"):
        try:
            with path.open("rb") as handle:
                return RestrictedUnpickler(handle, path, allow_numpy=allow_numpy, encoding=encoding).load()
        except UnicodeDecodeError as exc:
            last_error = exc
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise SourceError(
                f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); re-download the file"
            ) from None
    raise SourceError(f"{path}: cannot decode its text as ASCII or Latin-1 ({last_error})")
