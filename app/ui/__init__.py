"""GUI: the PySide6 desktop app, a thin layer over ``longhand.core``."""

from __future__ import annotations

import sys


def _immortal_singletons() -> None:
    """Work around a refcount bug of PySide6 6.12 on Python < 3.12.

    Its bindings return ``None`` from void methods (``setText``, ``setValue``...) and ``True``
    from ``Signal.emit`` without taking a reference, so every call drops one reference the
    interpreter owns; after some tens of thousands of calls Python aborts with "Fatal Python
    error: none_dealloc". Python 3.12 made these objects immortal (PEP 683), which is why the
    bindings get away with it there; here we give them the same property by hand, with a
    reference count no program can exhaust.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 60


_immortal_singletons()
