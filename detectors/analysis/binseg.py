"""Binary segmentation for mean shifts (L2 cost) with prefix sums, in numpy.

ruptures' own Binseg is pure Python (a cost call per candidate); this evaluates every
candidate split of a segment in one vectorised pass, so each level of the recursion is
O(n) and the whole search O(n log n) for a handful of change points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def binseg(x: npt.NDArray[np.float64], *, penalty: float, min_size: int = 5) -> list[int]:
    """Change points of `x` by greedy binary segmentation with a per-split penalty.

    A segment is split at the point that lowers the summed squared error the most,
    as long as that gain exceeds `penalty` (the same meaning as ruptures' `pen`
    for the 'l2' / linear-kernel cost) and both parts keep `min_size` points.

    Args:
        x: finite values (no NaN), ideally centred and scaled for accuracy.
        penalty: the cost of one more change point, in units of x squared.
        min_size: the shortest segment allowed.

    Returns:
        Sorted indices where a new segment starts (never 0 or len(x)).
    """
    n = x.size
    csum = np.empty(n + 1)
    csum[0] = 0.0
    np.cumsum(x - x.mean(), out=csum[1:])  # centring keeps squared sums accurate
    found: list[int] = []
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        split = _best_split(csum, a, b, min_size, penalty)
        if split is not None:
            found.append(split)
            stack.extend(((a, split), (split, b)))
    return sorted(found)


def _best_split(csum: npt.NDArray[np.float64], a: int, b: int, min_size: int, penalty: float) -> int | None:
    if b - a < 2 * min_size:
        return None
    k = np.arange(a + min_size, b - min_size + 1)
    left = csum[k] - csum[a]
    total = csum[b] - csum[a]
    right = total - left
    # SSE(a,b) - SSE(a,k) - SSE(k,b); the sums of squares cancel out.
    gain = left * left / (k - a) + right * right / (b - k) - total * total / (b - a)
    best = int(np.argmax(gain))
    return int(k[best]) if gain[best] > penalty else None
