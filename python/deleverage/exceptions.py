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

import re

__all__ = ["DeleverageError", "ScenarioError"]


class DeleverageError(Exception):
    """Base class of every error raised by deleverage.

    Errors from the engine carry where they point, set by the core (``None`` where an attribute
    does not apply): ``field`` (the argument, column or parameter), ``value`` (the offending
    number), ``protocol`` (the engine's protocol id), ``index`` (the row within it: a fund, a
    reserve) and ``detail`` (the message without that place), and after relabelling ``family``
    and ``account`` (the user's names).

    Examples
    --------
    >>> import deleverage as dl
    >>> try:
    ...     dl.OrderBook.linear(mid=-3.0, tick=1.0, levels=10, depth_per_level=1.0)
    ... except dl.ScenarioError as e:
    ...     print(e.field, e.value)
    mid -3.0
    """

    field: str | None = None
    value: float | None = None
    protocol: int | None = None
    index: int | None = None
    detail: str | None = None
    family: str | None = None
    account: str | None = None


class ScenarioError(DeleverageError, ValueError):
    """Bad input: the message names the field and the offending value.

    Examples
    --------
    >>> import deleverage as dl
    >>> try:
    ...     dl.OrderBook.linear(3_000.0, 1.0, 10, 1.0).sell("1")
    ... except dl.ScenarioError as e:
    ...     print(e, "|", e.field)
    qty must be a number, got '1' (str) | qty
    """

    def add_note(self, note: str, /) -> None:
        """Python's ``add_note``; the note the extension adds to an argument of the wrong type
        (``while processing 'qty'``) names the argument in the message instead."""
        m = _ARGUMENT.fullmatch(note)
        if m is not None and getattr(self, "_argument", False):
            self._argument = False
            self.field = m.group(1)
            self.args = (f"{m.group(1)} {self.args[0]}",)
            return
        super().add_note(note)


_ARGUMENT = re.compile(r"while processing '(\w+)'")
