"""Argument checks shared by the spec layer: every failure names the bad value and what is accepted."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Sequence


def suggest(name: str, accepted: Iterable[str]) -> str:
    """Return ' Did you mean ...?' for close matches of ``name`` among ``accepted`` (or '')."""
    close = difflib.get_close_matches(name, list(accepted), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def choice(what: str, value: object, accepted: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``accepted``, else raise a ValueError listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {list(accepted)}; got {value!r}")
    if value not in accepted:
        raise ValueError(
            f"unknown {what} {value!r}; accepted: {', '.join(accepted)}.{suggest(value, accepted)}"
        )
    return value


def real(what: str, value: object, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``value`` as a finite float, rejecting bools, non-numbers, NaN/inf and bad signs."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64, e.g. 10**400
        raise ValueError(f"{what} must be finite, got {_short(value)}, which overflows a float") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number!r}")
    if positive and number <= 0:
        raise ValueError(f"{what} must be > 0, got {number!r}")
    if nonnegative and number < 0:
        raise ValueError(f"{what} must be >= 0, got {number!r}")
    return number


def integer(what: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int (bools and floats rejected), at least ``minimum`` if given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r} ({type(value).__name__})")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {number}")
    return number


def shape_tuple(shape: object) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of non-negative ints; an int is a 1-D shape."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise TypeError(f"shape must be a sequence of integers, got {shape!r}")
    dims = tuple(shape)
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"shape {dims!r} has a non-integer dimension {dim!r}")
        if dim < 0:
            raise ValueError(f"shape {dims!r} has a negative dimension {dim}")
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) > MAX_ELEMENTS:
        raise ValueError(
            f"shape {_short(dims)} has {_short(math.prod(dims))} elements, more than any framework can index "
            f"(at most 2**63 - 1 = {MAX_ELEMENTS})"
        )
    return dims


#: largest element count a tensor may have: frameworks index elements with int64.
MAX_ELEMENTS = 2**63 - 1


def _short(value: object) -> str:
    """``repr(value)``, its middle elided past 60 characters (an int like 10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:28]}...{text[-28:]} ({len(text)} characters)"
