"""The exceptions of deleverage.

Every error the package raises on purpose is a :class:`DeleverageError`. Bad input (a NaN, a
negative quantity, an unsorted or crossed book, a parameter out of range) raises
:class:`ScenarioError`, which is also a :class:`ValueError`; its message names the argument and
the offending value.

Examples
--------
>>> import deleverage as dl
>>> try:
...     dl.ConstantProductPool(base_reserve=10.0, quote_reserve=100.0, fee=1.5)
... except dl.ScenarioError as e:
...     print(e)
fee must be in [0, 1), got 1.5
"""

from __future__ import annotations

__all__ = ["DeleverageError", "ScenarioError"]


class DeleverageError(Exception):
    """Base class of every error raised by deleverage."""


class ScenarioError(DeleverageError, ValueError):
    """Bad input: the message names the field and the offending value."""
