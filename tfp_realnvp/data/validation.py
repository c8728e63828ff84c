"""Argument checks shared by the data pipelines: fail early, name the argument and the value."""

from __future__ import annotations

import numbers


def check_positive_int(name: str, value: object) -> int:
    """Returns ``value`` as an ``int`` if it is an integer >= 1, else raises ``ValueError``.

    Booleans are rejected although Python treats them as integers (``True`` is not a size).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_optional_seed(name: str, value: object) -> int | None:
    """Returns ``value`` if it is ``None`` or an integer >= 0, else raises ``ValueError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be None or a non-negative integer; got {value!r}.")
    return int(value)
