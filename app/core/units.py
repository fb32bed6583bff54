"""Core: one unit for memory and disk sizes everywhere a user reads one.

Decimal gigabytes (GB, 10^9 bytes), as disks, downloads and model pages count them: the model
manager, ``longhand doctor``, Help > System and the command line all say "24.7 GB free of
25.3 GB" for the same memory.
"""

from __future__ import annotations


def format_gb(n: float, digits: int = 1) -> str:
    """Bytes as decimal gigabytes: 4.9 GB."""
    return f"{n / 1e9:.{digits}f} GB"
