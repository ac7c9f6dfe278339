"""Algorithm 1 as printed, transcribed loop by loop: the oracle the tests check ``region_support`` against.

Deliberately slow (pure Python, O(pixels x pieces)): do not optimise, and do not import it
outside tests and benchmarks. Where ``tfds_nyu.region_support`` departs from it, the
departure is listed in ``tfds_nyu.region_support.DEVIATIONS``.
"""

from __future__ import annotations

import math

import numpy as np

from tfds_nyu.region_support import _check_inputs  # the same input contract as the implementation

__all__ = ["paper_reference"]


_CAUSAL_NEIGHBOURS = ((0, -1), (-1, -1), (-1, 0), (-1, 1))


def paper_reference(semantic: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 as printed, loop by loop. Returns ``(I, R)``.

    Only the fixes needed for it to terminate and be meaningful are applied (see
    ``DEVIATIONS``): labelled pixels are removed from S after each piece, labels
    count down, the threshold is parenthesised as a per-bin mean, and ``R = S``
    runs once after the region loop. Everything else - strict bin edges, skipped
    small bins, the unreached last bin, unlabelled pixels - is kept as printed.
    Meant for small images: it is O(pixels x pieces) in pure Python.
    """
    semantic, depth = _check_inputs(semantic, depth)
    S = semantic.astype(np.int64).copy()
    D = depth.astype(np.float64)

    # 1. Semantic regions to instance regions.
    I = S.copy()  # noqa: E741  the paper's name for the region map
    label = -1
    while S.max() > 0:
        category = S.max()
        while S.max() == category:
            positions = sorted(map(tuple, np.argwhere(S == category)))  # left-top to right-bottom
            I[positions[0]] = label
            member = {positions[0]}
            for i in range(1, len(positions)):
                r, c = positions[i]
                pr, pc = positions[i - 1]
                near = math.hypot(r - pr, c - pc) <= 2
                touches = any((r + dr, c + dc) in member for dr, dc in _CAUSAL_NEIGHBOURS)
                if near or touches:
                    I[positions[i]] = label
                    member.add(positions[i])
                else:
                    break
            for p in member:  # not printed: without it the inner while never ends
                S[p] = 0
            label = label - 1  # printed as label + 1, which collides with class ids
    I = np.abs(I)  # noqa: E741
    R = I.copy()

    # 2. Refining regions and labelling with depth.
    var = (D.max() - D.min()) / 10
    S = np.zeros(S.shape, np.float64)
    for i in range(1, int(R.max()) + 1):
        positions = R == i
        d = D[positions]
        if d.size == 0:
            continue
        if d.max() - d.min() < 2 * var:
            S[positions] = d.mean()
        else:
            start, end = d.min(), d.min() + var
            while end < d.max():
                p = (R == i) & (D > start) & (D < end)
                if p.sum() > len(d) / ((d.max() - d.min()) / var):
                    S[p] = D[p].mean()
                    start = end
                    end = end + var
                    continue
                else:
                    start = end
                    end = end + var
                    continue
                # Lines 54-57 (the last-bin case) are unreachable as printed.
    R = S
    return I.astype(np.int32), R.astype(np.float32)
