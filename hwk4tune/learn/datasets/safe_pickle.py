"""Reading pickled data sets without running their code.

A pickle can run any code when it is loaded. Two guards, both always on:

1. where the file's SHA-256 is known (``mnist.pkl.gz``), it is checked BEFORE anything is unpickled, and a
   mismatch is refused (:class:`FileCheckError`, one line, exit 2 on the command line);
2. :class:`ArrayUnpickler` builds only numpy arrays, numpy dtypes and plain containers: any other global
   named in the stream (``os.system``, ``builtins.eval``, …) is refused (:class:`UnsafePickleError`).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hwk4tune.errors import InputError

# (module, name) globals a pickle of numpy arrays needs, under numpy 1 (numpy.core) and 2 (numpy._core);
# old numpy module paths are mapped to the ones this numpy has.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes under Python 3 (str -> bytes; runs nothing else)
}


class FileCheckError(InputError, ValueError):
    """A data file whose size or SHA-256 is not the expected one."""


class UnsafePickleError(InputError, ValueError):
    """A pickle that names something other than numpy arrays and plain containers."""


@dataclass(frozen=True)
class KnownFile:
    """What a trusted file is: its name, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, known: KnownFile, what: str) -> None:
    """Refuse ``path`` unless its size and SHA-256 are ``known``'s (size first: it costs nothing)."""
    size = path.stat().st_size
    if size != known.size:
        raise FileCheckError(
            f"{what}: {path} has {size:,} bytes, expected {known.size:,} (SHA-256 {known.sha256[:16]}…); "
            f"refusing to unpickle it: delete it and run `hwk4tune data fetch {what}`")
    digest = sha256_of(path)
    if digest != known.sha256:
        raise FileCheckError(
            f"{what}: {path} has SHA-256 {digest}, expected {known.sha256}; refusing to unpickle it "
            f"(a pickle can run code): delete it and run `hwk4tune data fetch {what}`")


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds only numpy arrays and plain Python containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(f"pickle names {module}.{name}: only numpy arrays and plain containers "
                                    f"are accepted in a data file")
        if module.startswith("numpy.core."):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        if module in ("copy_reg", "__builtin__"):
            module = {"copy_reg": "copyreg", "__builtin__": "builtins"}[module]
        return super().find_class(module, name)


def load_arrays(stream: IO[bytes], what: str) -> Any:
    """Unpickle ``stream`` (Python 2 pickles read as latin-1) with :class:`ArrayUnpickler`."""
    try:
        return ArrayUnpickler(stream, encoding="latin1").load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise FileCheckError(f"{what}: not a readable pickle of arrays: {type(exc).__name__}: {exc}") from None


def dumps_arrays(obj: Any, protocol: int = 2) -> bytes:
    """Pickle (for tests and tools that write data files in the layouts read here)."""
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=protocol)
    return buf.getvalue()
