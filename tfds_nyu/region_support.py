"""Region-support ground truth: Algorithm 1 of the paper.

Given a semantic map ``S`` and a depth map ``D`` the algorithm produces

* the *re-segmented regions* ``I``: every semantic class split into spatially
  connected pieces (step 1), then every piece whose depth range is too wide cut
  into depth bins (step 2);
* the *region support* ``R``: every pixel labelled with the mean depth of its
  final region.

``region_support`` is the vectorised implementation used everywhere
(OpenCV connected components plus numpy ``bincount``; no per-pixel Python).
``tests/algorithm1_reference.py`` holds a literal, loop-by-loop transcription of
the printed listing, the tests' oracle. Where the two differ it is on purpose,
and each difference is listed in ``DEVIATIONS`` (and in the README):
"""

from __future__ import annotations

import dataclasses

import cv2
import numba
import numpy as np

__all__ = [
    "DEVIATIONS",
    "RegionSupportTargets",
    "region_support",
    "printed_region_support",
    "depth_variance_unit",
]

# Each entry: (what the printed Algorithm 1 does, what ``region_support`` does, why).
DEVIATIONS: tuple[tuple[str, str, str], ...] = (
    (
        "Step 1 walks a class's pixels in raster order and stops a piece at the first pixel "
        "farther than 2 px from the previous one (the authors' code also accepts a pixel "
        "with an already-labelled neighbour above or to the left).",
        "8-connected components of each class (cv2.connectedComponents).",
        "The walk is connected-component labelling written slowly; on blob-shaped classes the "
        "two give identical pieces. The walk can also bridge a 1-px gap along a row "
        "(distance 2) and split U-shapes; CC is the well-defined version of the same idea.",
    ),
    (
        "Unlabelled pixels (S = 0) get no piece, so they keep R = 0.",
        "Unlabelled pixels with valid depth form pieces of their own.",
        "Nothing with valid depth is dropped: every valid pixel gets a region and R > 0.",
    ),
    (
        "Depth bins use strict inequalities (start < d < end), so pixels exactly on a bin edge, "
        "including the minimum of every cut piece, get R = 0; and the loop stops while "
        "end < max(d), so the top bin of each cut piece is never written.",
        "Bins are [min + k*var, min + (k+1)*var) and the last bin is closed at max(d).",
        "Every valid pixel must get exactly one region.",
    ),
    (
        "A bin with too few pixels ('enough pixels' rule) is skipped and keeps R = 0; lines "
        "54-57 (the last-bin case) are unreachable because both branches 'continue'.",
        "A too-small bin joins the enough-pixel bin of the same piece whose mean depth is nearest, "
        "provided the joined region's depth range stays below 2*var; otherwise it stands alone. "
        "If no bin of a piece passes the rule, its most populous bin counts as enough.",
        "Every valid pixel gets a region, and the < 2*var depth-range invariant of a region holds.",
    ),
    (
        "The threshold is printed as len(d)/(max(d)-min(d))/var.",
        "Read as len(d) / ((max(d)-min(d)) / var): the mean pixel count per var-wide bin.",
        "Read literally the threshold has units px/m^2 and almost no bin ever passes it; both "
        "implementations use the per-bin mean reading.",
    ),
    (
        "Piece labels start at -1 and are incremented (label = label + 1), which collides with "
        "the positive class ids still in I; R = S sits inside the region loop.",
        "Pieces are numbered 1..P in class order, then raster order; R is assigned once.",
        "Printing typos: labels must decrease (-1, -2, ...) for the final abs() to work, and "
        "R = S inside the loop would overwrite the region ids it iterates over. The reference "
        "transcription fixes both, since otherwise it never terminates.",
    ),
    (
        "var = (max(D) - min(D)) / 10 over the whole map, zeros included.",
        "var is taken over valid pixels only (finite and > 0); invalid pixels get region 0, R = 0. "
        "If var = 0 (constant depth) no piece is cut.",
        "NYU depth maps contain holes (0) that would otherwise set min(D) = 0.",
    ),
    (
        "S is the dataset's semantic labelling (NYU's hand-labelled classes).",
        "Region mode 'slic' (tfds_nyu.label_free): S = SLIC superpixels of the RGB image (scikit-image, "
        "64 per frame, compactness 10), one class per superpixel; Algorithm 1 then runs unchanged.",
        "Most RGB-D data (the NYU h5 tree, users' own folders) has no labels. Superpixels follow "
        "colour edges as object boundaries do; measured against labelled region support in BENCHMARKS.md. "
        "The faster label-free mode.",
    ),
    (
        "S is the dataset's semantic labelling.",
        "Region mode 'felzenszwalb': S = Felzenszwalb-Huttenlocher graph segments of the RGB image "
        "(scikit-image; scale 400 and minimum size 1500 px at 480x640, scaled with the image area).",
        "The default label-free mode: its segments follow colour edges without a fixed count, and it "
        "agrees best with labelled region support (BENCHMARKS.md).",
    ),
    (
        "S is the dataset's semantic labelling.",
        "Region mode 'depth_only': S is one class for the whole frame, so step 1 splits only by "
        "connectivity of valid depth and step 2 cuts by depth bins.",
        "Needs nothing but depth; the coarsest label-free regions, a lower bound for the others.",
    ),
)


@dataclasses.dataclass(frozen=True)
class RegionSupportTargets:
    """The outputs of Algorithm 1 for one frame."""

    regions: np.ndarray
    """int32 (H, W): final re-segmented region ids ``I``, 1..K; 0 = invalid depth."""
    region_support: np.ndarray
    """float32 (H, W): mean depth of each pixel's final region ``R``; 0 = invalid."""
    pieces: np.ndarray
    """intp (H, W): step-1 pieces (connected parts of each class) before depth binning; 0 = invalid."""
    var: float
    """The depth bin width, (max(D) - min(D)) / 10 over valid pixels."""

    @property
    def num_regions(self) -> int:
        return int(self.regions.max(initial=0))


def depth_variance_unit(depth: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The paper's ``var``: a tenth of the depth range over valid pixels (0 if none)."""
    if valid is None:
        valid = _valid_depth_mask(depth)
    if not valid.any():
        return 0.0
    d = depth[valid]
    return (float(d.max()) - float(d.min())) / 10.0


def _valid_depth_mask(depth: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth > 0)


def _check_inputs(semantic: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate (S, D); return S as a non-negative integer map and D as float."""
    if not isinstance(semantic, np.ndarray):
        semantic = np.asarray(semantic)
    if not isinstance(depth, np.ndarray):
        depth = np.asarray(depth)
    if semantic.ndim != 2:
        raise ValueError(f"semantic: expected a 2-D (H, W) label map, got shape {semantic.shape}")
    if depth.ndim != 2:
        raise ValueError(f"depth: expected a 2-D (H, W) depth map in metres, got shape {depth.shape}")
    if semantic.shape != depth.shape:
        raise ValueError(
            f"semantic and depth must have the same (H, W): semantic is {semantic.shape}, depth is {depth.shape}"
        )
    if semantic.dtype == np.bool_ or not np.issubdtype(semantic.dtype, np.integer):
        raise ValueError(f"semantic: expected an integer label map (uint8/uint16/int32), got dtype {semantic.dtype}")
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(
            f"depth: expected floating-point metres (float32/float64), got dtype {depth.dtype}; "
            "convert millimetre maps with depth_mm.astype(np.float32) / 1000"
        )
    if semantic.size and semantic.min() < 0:
        raise ValueError(f"semantic: class ids must be >= 0 (0 = unlabelled), found {semantic.min()}")
    lowest = depth.min() if depth.size else 0.0
    if np.isnan(lowest) or lowest < 0:  # min() is NaN when any NaN is present: look closer
        with np.errstate(invalid="ignore"):
            negative = np.isfinite(depth) & (depth < 0)
    else:
        negative = None
    if negative is not None and negative.any():
        r, c = np.argwhere(negative)[0]
        raise ValueError(
            f"depth: {int(negative.sum())} negative value(s), first at (row {r}, col {c}) = "
            f"{depth[r, c]}; depth must be metres >= 0 (0 and NaN mark invalid pixels)"
        )
    return semantic, depth


def region_support(semantic: np.ndarray, depth: np.ndarray) -> RegionSupportTargets:
    """Algorithm 1, vectorised.

    Args:
      semantic: (H, W) integer class map, 0 = unlabelled.
      depth: (H, W) float depth in metres. 0, NaN and +-inf mark invalid pixels.

    Returns:
      ``RegionSupportTargets``. A frame with no valid depth returns all-zero targets
      (``regions`` 0, ``region_support`` 0, ``var`` 0) rather than raising, so that
      a dataset builder can count and skip it.

    Raises:
      ValueError: naming ``semantic`` or ``depth`` for wrong rank, mismatched shapes,
        a non-integer label map, non-float depth, negative labels or negative depth.
    """
    semantic, depth = _check_inputs(semantic, depth)
    shape = semantic.shape
    valid = _valid_depth_mask(depth)
    if not valid.any():
        zeros_i = np.zeros(shape, np.int32)
        return RegionSupportTargets(zeros_i, np.zeros(shape, np.float32), np.zeros(shape, np.intp), 0.0)

    all_valid = bool(valid.all())
    pieces = _connected_pieces(semantic, None if all_valid else valid)
    # Work on the flat list of valid pixels; skip the boolean gather when all are valid.
    # Indices are intp because numpy converts any other index dtype on every gather.
    if all_valid:
        piece_of = pieces.ravel()
        d = np.ascontiguousarray(depth, dtype=np.float32).ravel()
    else:
        flat_valid = valid.ravel()
        piece_of = pieces.ravel()[flat_valid]
        d = depth.ravel()[flat_valid].astype(np.float32)
    num_pieces = int(piece_of.max())
    var = (float(d.max()) - float(d.min())) / 10.0

    # ---- step 2: the per-piece depth range decides which pieces are cut into bins.
    pmin, pmax = _group_range(piece_of, d, num_pieces + 1)
    prange = pmax.astype(np.float64) - pmin
    cut = (prange >= 2.0 * var) & (var > 0)
    cut[0] = False
    nbins = np.ones(num_pieces + 1, np.intp)
    if cut.any():
        nbins[cut] = np.maximum(1, np.ceil(prange[cut] / var)).astype(np.intp)
    width = int(nbins.max())

    if width == 1:
        cell = piece_of
        columns = 1
    else:
        # Bin k of a cut piece is [min + k*var, min + (k+1)*var); uncut pieces get a zero scale
        # so all their pixels fall into bin 0. Only a pixel exactly at max(d) of a piece whose
        # range is a whole number of bins lands in bin nbins: give it a spare column and fold
        # that column back into the last bin on the (small) cell table, not per pixel.
        columns = width + 1
        scale = np.where(cut, 1.0 / max(var, 1e-30), 0.0).astype(np.float32)
        rel = np.take(pmin, piece_of)
        np.subtract(d, rel, out=rel)
        rel *= np.take(scale, piece_of)
        cell = rel.astype(np.intp)  # rel >= 0, so truncation is floor
        cell += piece_of * columns

    cells = _CellStats.of(cell, d, num_pieces + 1, columns, need_range=bool(cut.any()))
    fold = np.minimum(np.arange(columns)[None, :], (nbins - 1)[:, None])  # (P+1, columns) -> bin
    cells = cells.folded(fold, width)
    assign = _merge_small_bins(cells, prange, cut, var)
    group = np.arange(num_pieces + 1)[:, None] * width + assign  # (piece, bin) -> its group's cell
    used = np.zeros(group.size, bool)
    used[group[cells.count > 0]] = True
    used[0] = False
    # group cell -> final region id 1..K, numbered in (piece, bin) order.
    region_of_bin = np.cumsum(used)[group]  # (P+1, width)
    num_regions = int(region_of_bin.max())
    counts = np.bincount(region_of_bin.ravel(), weights=cells.count.ravel(), minlength=num_regions + 1)
    sums = np.bincount(region_of_bin.ravel(), weights=cells.total.ravel(), minlength=num_regions + 1)
    means = np.zeros(num_regions + 1, np.float64)
    means[1:] = sums[1:] / np.maximum(counts[1:], 1)

    cell_lut = np.take_along_axis(region_of_bin, fold, axis=1).astype(np.int32).ravel()
    region_of = np.take(cell_lut, cell)
    support_of = np.take(means.astype(np.float32), region_of)
    if all_valid:
        regions = region_of.reshape(shape)
        support = support_of.reshape(shape)
    else:
        regions = np.zeros(shape, np.int32)
        regions.ravel()[flat_valid] = region_of
        support = np.zeros(shape, np.float32)
        support.ravel()[flat_valid] = support_of
    return RegionSupportTargets(regions, support, pieces, var)


# Per-group reductions in one pass over the pixels, compiled by Numba: numpy's ufunc.at and
# bincount need one pass per statistic, and these passes were half of Algorithm 1's time
# (BENCHMARKS.md). ``cache=True`` keeps the machine code on disk, so only the first process
# compiles (about a second).
@numba.njit(cache=True, nogil=True)
def _group_range(group: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of ``values`` per group id in [0, size); +inf / -inf for empty groups."""
    lo = np.full(size, np.inf, values.dtype)
    hi = np.full(size, -np.inf, values.dtype)
    for i in range(group.shape[0]):
        g, v = group[i], values[i]
        if v < lo[g]:
            lo[g] = v
        if v > hi[g]:
            hi[g] = v
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _group_stats(group: np.ndarray, values: np.ndarray, size: int):
    """(count, sum, min, max) of ``values`` per group id in [0, size); sums in float64."""
    count = np.zeros(size, np.int64)
    total = np.zeros(size, np.float64)
    lo = np.full(size, np.inf, values.dtype)
    hi = np.full(size, -np.inf, values.dtype)
    for i in range(group.shape[0]):
        g, v = group[i], values[i]
        count[g] += 1
        total[g] += v
        if v < lo[g]:
            lo[g] = v
        if v > hi[g]:
            hi[g] = v
    return count, total, lo, hi


def _connected_pieces(semantic: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Step 1: 8-connected pieces of every class over valid pixels, numbered 1..P.

    Pieces are numbered in ascending class order (unlabelled 0 first), then in
    OpenCV's scan order within a class, so the numbering is deterministic.
    ``valid=None`` means every pixel is valid. Ids are intp: every later gather
    and scatter indexes with them, and numpy converts any other index dtype each time.
    """
    pieces = np.zeros(semantic.shape, np.intp)
    offset = 0
    for c in _present_classes(semantic, valid):
        mask = semantic == c
        if valid is not None:
            mask &= valid
        # Label only the class's bounding box: most classes cover a small part of the frame.
        x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
        box = np.s_[y : y + h, x : x + w]
        n, lab = cv2.connectedComponents(mask[box].view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        # Pieces of different classes are disjoint: write the shifted labels under this class only.
        np.add(lab, offset, out=pieces[box], where=mask[box])
        offset += n - 1
    return pieces


def _present_classes(semantic: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Sorted class ids that occur on valid pixels."""
    labels = semantic if valid is None else semantic[valid]
    if labels.dtype in (np.uint8, np.uint16) and labels.size:
        # OpenCV's histogram is several times faster than bincount's cast to intp.
        bins = 256 if labels.dtype == np.uint8 else 65536
        image = labels if labels.ndim == 2 else labels.reshape(1, -1)
        hist = cv2.calcHist([np.ascontiguousarray(image)], [0], None, [bins], [0, bins])
        return np.flatnonzero(hist.ravel())
    return np.flatnonzero(np.bincount(labels.ravel().astype(np.intp)))


@dataclasses.dataclass
class _CellStats:
    """Pixel count, depth sum and depth range of every (piece, bin) cell, shaped (P + 1, width)."""

    count: np.ndarray
    total: np.ndarray
    dmin: np.ndarray | None
    dmax: np.ndarray | None

    @classmethod
    def of(cls, cell: np.ndarray, d: np.ndarray, rows: int, width: int, need_range: bool) -> _CellStats:
        shape = (rows, width)
        count, total, dmin, dmax = _group_stats(cell, d, rows * width)
        if not need_range:
            return cls(count.reshape(shape), total.reshape(shape), None, None)
        return cls(
            count.reshape(shape),
            total.reshape(shape),
            dmin.reshape(shape).astype(np.float64),
            dmax.reshape(shape).astype(np.float64),
        )

    def folded(self, fold: np.ndarray, width: int) -> _CellStats:
        """Merge column ``c`` of row ``p`` into column ``fold[p, c]``; returns ``width`` columns."""
        if fold.shape[1] == width:
            return self
        rows = fold.shape[0]
        target = (np.arange(rows)[:, None] * width + fold).ravel()
        size = rows * width

        def combine(values: np.ndarray | None, ufunc: np.ufunc, init: float) -> np.ndarray | None:
            if values is None:
                return None
            out = np.full(size, init, values.dtype)
            ufunc.at(out, target, values.ravel())
            return out.reshape(rows, width)

        return _CellStats(
            combine(self.count, np.add, 0),
            combine(self.total, np.add, 0.0),
            combine(self.dmin, np.minimum, np.inf),
            combine(self.dmax, np.maximum, -np.inf),
        )


def _merge_small_bins(cells: _CellStats, prange: np.ndarray, cut: np.ndarray, var: float) -> np.ndarray:
    """Decide, for every (piece, bin) cell, which bin of the same piece it ends up in.

    Returns ``assign`` of shape (P + 1, width): ``assign[p, b]`` is the bin whose
    region bin ``b`` of piece ``p`` belongs to (``b`` itself if it stands alone).
    Vectorised over pieces; the Python loop runs over bin indices only (<= 11).
    """
    count = cells.count
    rows, width = count.shape
    assign = np.broadcast_to(np.arange(width), (rows, width)).copy()
    if not cut.any():
        return assign

    nonempty = count > 0
    mean = np.where(nonempty, cells.total / np.maximum(count, 1), np.nan)
    # 'Enough pixels': more than the piece's mean count per var-wide bin.
    piece_count = count.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.where(cut, piece_count * var / prange, 0.0)
    enough = nonempty & (count > threshold[:, None])
    # A piece with no enough bin keeps its most populous bin (first on ties) as the anchor.
    anchor = np.argmax(count, axis=1)
    no_anchor = ~enough.any(axis=1)
    enough[no_anchor, anchor[no_anchor]] = True
    # An uncut piece is one bin that always stands alone.
    enough[~cut] = nonempty[~cut]

    gmin, gmax = cells.dmin.copy(), cells.dmax.copy()  # running depth range of each anchor's group
    for b in range(width):
        small = np.flatnonzero(nonempty[:, b] & ~enough[:, b])
        if small.size == 0:
            continue
        umin = np.minimum(gmin[small], cells.dmin[small, b][:, None])
        umax = np.maximum(gmax[small], cells.dmax[small, b][:, None])
        ok = enough[small] & (umax - umin < 2.0 * var)
        dist = np.where(ok, np.abs(mean[small] - mean[small, b][:, None]), np.inf)
        target = np.argmin(dist, axis=1)  # ties -> the shallower bin
        joined = ok.any(axis=1)
        r, t = small[joined], target[joined]
        assign[r, b] = t
        gmin[r, t] = umin[joined, t]
        gmax[r, t] = umax[joined, t]
    return assign


def printed_region_support(semantic: np.ndarray, depth: np.ndarray) -> RegionSupportTargets:
    """Algorithm 1 with the printed listing's gaps kept, vectorised: what the paper's Baseline2 scored.

    The same as the literal transcription (``tests/algorithm1_reference.py``) except that
    step 1 uses 8-connected components (as ``region_support`` does) instead of the raster
    walk, so it runs at full resolution in milliseconds. Kept as printed, each leaving pixels at R = 0:

    * unlabelled pixels (S = 0) get no piece;
    * ``var`` is taken over the whole map, zeros (holes) included;
    * bins are open intervals (start < d < end), so a pixel exactly on a bin edge, including
      the minimum of every cut piece, is never written;
    * the loop runs while end < max(d), so the top bin of every cut piece is never written;
    * a bin with no more than len(d) / ((max(d) - min(d)) / var) pixels is skipped.

    Returns targets whose ``regions`` number the written (piece, bin) groups 1..K (0 = not
    written) and whose ``region_support`` is 0 wherever the printed algorithm writes nothing.
    """
    semantic, depth = _check_inputs(semantic, depth)
    shape = semantic.shape
    d_all = np.nan_to_num(depth.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0).ravel()
    labelled = semantic > 0
    pieces = _connected_pieces(np.where(labelled, semantic, 0), labelled if not labelled.all() else None)
    var = (float(d_all.max()) - float(d_all.min())) / 10.0
    piece_of = pieces.ravel()
    inside = np.flatnonzero(piece_of > 0)
    p, d = piece_of[inside], d_all[inside]
    rows = int(piece_of.max()) + 1
    count, sums, pmin, pmax = _group_stats(p, d, rows)
    prange = pmax - pmin
    regions = np.zeros(shape[0] * shape[1], np.int32)
    support = np.zeros(shape[0] * shape[1], np.float32)
    # Uncut pieces (range < 2 var): every pixel gets its piece's mean.
    uncut = (prange < 2 * var) | (var <= 0)
    whole = uncut[p]
    means = sums / np.maximum(count, 1)
    uncut_ids = np.zeros(rows, np.int64)
    uncut_pieces = np.flatnonzero((count > 0) & uncut)
    uncut_ids[uncut_pieces] = np.arange(1, uncut_pieces.size + 1)
    regions[inside[whole]] = uncut_ids[p[whole]]
    support[inside[whole]] = means[p[whole]]
    next_id = uncut_pieces.size + 1
    if var > 0 and not whole.all():
        cut_px = inside[~whole]
        pc, dc = p[~whole], d[~whole]
        rel = (dc - pmin[pc]) / var
        k = np.floor(rel).astype(np.int64)
        start = pmin[pc] + k * var
        end = start + var
        # Open interval, and only bins the loop reaches (end < max(d) of the piece).
        written = (dc > start) & (dc < end) & (end < pmax[pc])
        bins = int(k.max()) + 1
        cell = pc * bins + k
        cell_count = np.bincount(cell[written], minlength=rows * bins)
        cell_sum = np.bincount(cell[written], weights=dc[written], minlength=rows * bins)
        threshold = count[pc] / (prange[pc] / var)
        enough = written & (cell_count[cell] > threshold)
        used = np.unique(cell[enough])
        ids = np.zeros(rows * bins, np.int64)
        ids[used] = np.arange(next_id, next_id + used.size)
        regions[cut_px[enough]] = ids[cell[enough]]
        support[cut_px[enough]] = (cell_sum / np.maximum(cell_count, 1))[cell[enough]]
    return RegionSupportTargets(regions.reshape(shape), support.reshape(shape), pieces, var)
