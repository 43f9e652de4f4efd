"""Crossings of two series, per value and per array: the tie rule strategies decide by."""

from __future__ import annotations

import numpy as np


class Crossover:
    """Detects when ``a`` crosses ``b``, with the tie rule of backtrader and vectorbt.

    The sign of ``a - b`` is remembered; a zero difference keeps the previous sign, and an
    undefined (nan) value forgets it. :meth:`update` returns ``+1`` when the sign turns from
    negative to positive ("crosses above"), ``-1`` for the mirror ("crosses below"), else 0.
    The first defined difference only sets the sign, so no crossing is reported until both
    series are defined on the current and the previous price.
    """

    __slots__ = ("sign",)

    def __init__(self) -> None:
        self.sign = 0

    def update(self, a: float, b: float) -> int:
        diff = a - b
        if diff > 0:
            crossed = 1 if self.sign == -1 else 0
            self.sign = 1
            return crossed
        if diff < 0:
            crossed = -1 if self.sign == 1 else 0
            self.sign = -1
            return crossed
        if diff != diff:  # nan: one side is undefined
            self.sign = 0
        return 0

    def update_many(self, a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
        """:meth:`update` over whole arrays (int8 result), carrying the sign across calls."""
        diff = np.asarray(a, dtype=float) - b
        n = diff.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int8)
        undefined = np.isnan(diff)
        code = np.sign(np.where(undefined, 0.0, diff)).astype(np.int8)
        decisive = (code != 0) | undefined  # the elements that set the remembered sign
        last = np.maximum.accumulate(np.where(decisive, np.arange(n), -1))
        after = np.where(last >= 0, code[np.maximum(last, 0)], np.int8(self.sign))
        before = np.empty(n, dtype=np.int8)
        before[0] = self.sign
        before[1:] = after[:-1]
        self.sign = int(after[-1])
        up = (code == 1) & (before == -1)
        down = (code == -1) & (before == 1)
        return up.astype(np.int8) - down.astype(np.int8)

    def reset(self) -> None:
        self.sign = 0
