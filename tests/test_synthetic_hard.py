"""The hard synthetic world: its geometry, its Kinect-like depth, its statistics and its builder config."""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from rsn_tf.evaluation.world_statistics import (
    NYU13,
    colour_centroid_accuracy,
    frame_statistics,
    luminance_depth_correlation,
    to_nyu13,
)
from tfds_nyu import synthetic, synthetic_hard
from tfds_nyu.synthetic_hard import Solid, _hit_box, _hit_cylinder, _hit_sphere, inpaint_depth, kinect_raw_depth

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _ray(direction):
    """One ray from the origin, as the renderer's per-axis planes of shape (1, 1)."""
    return [0.0, 0.0, 0.0], [np.full((1, 1), c, np.float64) for c in direction]


# ------------------------------------------------------------------ geometry, by hand


def test_a_box_turned_45_degrees_is_hit_on_its_edge_at_the_hand_computed_distance():
    origin, d = _ray((0.0, 1.0, 0.0))
    box = Solid("box", (0.0, 5.0, 0.0), (1.0, 1.0, 1.0), math.pi / 4, "cabinet", 1, 0)
    t, _ = _hit_box(origin, d, box)
    assert t[0, 0] == pytest.approx(5.0 - math.sqrt(2.0), abs=1e-9)  # the nearest corner edge
    # Not turned, the same box is hit on its face at y = 4, with the normal facing the ray.
    t, n = _hit_box(origin, d, Solid("box", (0.0, 5.0, 0.0), (1.0, 1.0, 1.0), 0.0, "cabinet", 1, 0))
    assert t[0, 0] == pytest.approx(4.0) and [float(c[0, 0]) for c in n] == pytest.approx([0.0, -1.0, 0.0])
    # A ray passing beside it misses.
    t, _ = _hit_box([3.0, 0.0, 0.0], _ray((0.0, 1.0, 0.0))[1], box)
    assert np.isinf(t[0, 0])


def test_a_cylinder_is_hit_on_its_side_and_from_above_on_its_cap():
    cyl = Solid("cylinder", (0.0, 5.0, -1.0), (1.0, 1.0, 2.0), 0.0, "garbage bin", 1, 0)
    origin, d = _ray((0.0, 1.0, 0.0))
    t, n = _hit_cylinder(origin, d, cyl)
    assert t[0, 0] == pytest.approx(4.0) and [float(c[0, 0]) for c in n] == pytest.approx([0.0, -1.0, 0.0])
    # From 3 m above its axis, looking straight down: the top cap at z = 1, 2 m below.
    t, n = _hit_cylinder([0.0, 5.0, 3.0], _ray((0.0, 0.0, -1.0))[1], cyl)
    assert t[0, 0] == pytest.approx(2.0) and float(n[2][0, 0]) == pytest.approx(1.0)
    # Above its top, looking along y: a miss.
    assert np.isinf(_hit_cylinder([0.0, 0.0, 1.5], d, cyl)[0][0, 0])


def test_a_sphere_is_hit_at_centre_distance_minus_radius():
    ball = Solid("sphere", (0.0, 5.0, 0.0), (1.0, 1.0, 1.0), 0.0, "plant", 1, 0)
    origin, d = _ray((0.0, 1.0, 0.0))
    t, n = _hit_sphere(origin, d, ball)
    assert t[0, 0] == pytest.approx(4.0) and [float(c[0, 0]) for c in n] == pytest.approx([0.0, -1.0, 0.0])
    # A ray tangent-plus-a-bit misses: offset 1.01 m from the centre line.
    assert np.isinf(_hit_sphere([1.01, 0.0, 0.0], d, ball)[0][0, 0])


# ------------------------------------------------------------------ Kinect-like raw depth


def _raw(depth, **kw):
    h, w = depth.shape
    args = dict(
        facing=np.ones((h, w)),
        albedo=np.full((h, w, 3), 0.5, np.float32),
        glossy=np.zeros((h, w), bool),
        rng=np.random.default_rng(0),
        fx=582.6,
    )
    args.update(kw)
    return kinect_raw_depth(depth.astype(np.float32), **args)


def test_raw_depth_is_quantised_in_disparity_and_holed_in_the_projectors_shadow():
    h, w = 480, 640
    depth = np.full((h, w), 4.0, np.float32)
    depth[:, 300:400] = 1.0  # a near post in front of a wall 4 m away
    raw = _raw(depth)
    fb = 582.6 * synthetic_hard.KINECT_BASELINE
    valid = raw > 0
    # Every reading is fx * b / (k / 8) for an integer k: the disparity grid.
    steps = fb / raw[valid] / synthetic_hard.DISPARITY_STEP
    assert np.allclose(steps, np.round(steps), atol=1e-3)
    # At 4 m the step is about z^2 / (fx b) / 8 = 4.6 cm; every reading is within two steps.
    assert np.abs(raw[valid & (depth == 4.0)] - 4.0).max() < 0.1
    # The shadow: left of the post, as wide as the disparity difference fx b (1/1 - 1/4) = 32.8 px.
    row = 240
    width = fb * (1.0 - 0.25)
    assert (raw[row, 300 - int(width) + 1 : 300] == 0).all()
    assert (raw[row, 300 - int(width) - 3 : 300 - int(width) - 1] > 0).any()
    assert (raw[row, 401:420] > 0).all()  # no shadow on the right side
    # NYU's registration border has no reading.
    top, bottom, left, right = synthetic_hard.REGISTRATION_BORDER
    assert (raw[:top] == 0).all() and (raw[:, :left] == 0).all() and (raw[:, w - right :] == 0).all()
    assert (raw[h - bottom :] == 0).all() and raw[top : h - bottom, left : w - right].mean() > 0


def test_dark_glossy_grazing_and_far_surfaces_lose_their_reading():
    h, w = 240, 320
    depth = np.full((h, w), 3.0, np.float32)
    base = (_raw(depth, fx=291.3) > 0)[60:200, 60:260].mean()
    dark = np.full((h, w, 3), 0.02, np.float32)
    assert (_raw(depth, albedo=dark, fx=291.3) > 0)[60:200, 60:260].mean() < base - 0.5
    glossy = np.ones((h, w), bool)
    assert (_raw(depth, glossy=glossy, fx=291.3) > 0)[60:200, 60:260].mean() < base - 0.5
    assert (_raw(depth, facing=np.full((h, w), 0.1), fx=291.3) > 0).sum() == 0
    assert (_raw(np.full((h, w), 9.5, np.float32), fx=291.3) > 0).sum() == 0


def test_inpainting_fills_holes_from_their_surroundings_and_keeps_readings():
    raw = np.tile(np.linspace(1.0, 3.0, 64, dtype=np.float32), (48, 1))
    truth = raw.copy()
    raw[20:28, 30:38] = 0.0
    filled = inpaint_depth(raw)
    assert (filled > 0).all()
    assert np.array_equal(filled[raw > 0], raw[raw > 0])
    # A hole in a smooth ramp is filled to within the ramp's values across it.
    assert np.abs(filled[20:28, 30:38] - truth[20:28, 30:38]).max() < 0.15


# ------------------------------------------------------------------ frames and statistics


def test_frames_are_deterministic_and_consistent():
    scene = synthetic_hard.make_hard_scene(3, seed=5)
    a, b = synthetic_hard.render_hard(scene, 1, 120, 160), synthetic_hard.render_hard(scene, 1, 120, 160)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.raw_depth, b.raw_depth)
    other = synthetic_hard.render_hard(scene, 2, 120, 160)
    assert not np.array_equal(a.image, other.image)
    assert a.image.shape == (120, 160, 3) and a.image.dtype == np.uint8
    assert (a.depth > 0).all() and a.depth.max() <= synthetic.MAX_DEPTH  # in-painted: no holes
    assert (a.raw_depth == 0).any()  # the raw reading has holes
    held = a.raw_depth > 0
    assert np.abs(a.depth[held] - a.raw_depth[held]).max() < 1e-6  # readings kept as read
    assert a.labels.max() <= len(a.label_names) and (a.labels == 0).any()  # outlines are left unlabelled


def test_appearance_carries_less_class_than_in_the_simple_world():
    """The design goal of the hard world, measured with the same statistic on both worlds."""

    def accuracy(world):
        make, render, names, _ = synthetic._world(world)
        values = []
        for i in range(6):
            f = render(make(i, 11), 0, 240, 320)
            values.append(colour_centroid_accuracy(f.image, to_nyu13(f.labels, f.label_names, names)))
        return float(np.mean(values))

    assert accuracy("hard") < accuracy("simple") - 0.1


def test_statistics_by_hand():
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, :2] = (200, 0, 0)
    labels = np.array([[1, 1, 2, 2], [1, 1, 2, 2]], np.uint8)
    assert colour_centroid_accuracy(image, labels) == 1.0  # colour says the class
    assert colour_centroid_accuracy(np.zeros_like(image), labels) == 0.5  # colour says nothing
    depth = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    bright = np.array([[[250] * 3, [200] * 3, [100] * 3, [10] * 3]], np.uint8)
    assert luminance_depth_correlation(bright, depth) == pytest.approx(-1.0)  # haze: far is dark
    names = ("wall", "desk", "cup", "paper")
    mapped = to_nyu13(np.array([[1, 2, 3, 4, 0]]), names, known=("wall", "desk", "cup"))
    assert mapped.tolist() == [[NYU13.index("wall") + 1, NYU13.index("table") + 1, NYU13.index("objects") + 1, 0, 0]]
    raw = np.array([[0.0, 2.0], [3.0, 0.0]], np.float32)
    stats = frame_statistics(None, raw, np.array([[1, 1], [12, 0]], np.uint8))
    assert stats.hole_fraction == 0.5 and stats.classes == 2 and stats.unlabelled == 0.25
    assert stats.largest_class == pytest.approx(2 / 3)


@pytest.mark.slow
def test_world_statistics_bench_compares_real_and_both_worlds(tmp_path):
    out = tmp_path / "stats.json"
    figure = tmp_path / "stats.png"
    run = subprocess.run(
        [sys.executable, "bench/world_statistics.py", "--frames=2", f"--out={out}", f"--figure={figure}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result) == {"real NYU", "synthetic", "synthetic_hard"}
    assert result["real NYU"]["frames"] == 57 and result["synthetic_hard"]["frames"] == 2
    # The real figures come from the shared files: NYU frame 551's 13 classes and 7 sensor depth maps.
    assert 0.15 < result["real NYU"]["hole_fraction"][1] < 0.35
    assert "| Algorithm 1 regions per frame |" in run.stdout and figure.stat().st_size > 1000


# The builder config `synthetic_hard_mini` is built and checked in tests/test_training.py's
# multi-worker scenario (test_two_workers_build_once_...), which builds it from an empty data dir.


def test_rsn_synthesize_writes_the_hard_world_in_nyus_layout(tmp_path, capsys):
    import h5py

    from rsn_tf.cli import synthesize
    from tfds_nyu.nyu_mat import NyuLabeledMat

    assert synthesize.main([str(tmp_path), "--v2_frames=2", "--v1_frames=1", "--size=120x160", "--world=hard"]) == 0
    with NyuLabeledMat(tmp_path / "nyu_depth_v2_labeled.mat", "v2", expected_size=(120, 160)) as mat:
        assert mat.names == list(synthetic_hard.HARD_V2_NAMES) and len(mat) == 2
        frame = mat.frame(0)
        assert (frame.depth > 0).all()  # `depths`: in-painted
    with h5py.File(tmp_path / "nyu_depth_v2_labeled.mat") as f:
        raw = f["rawDepths"][0]
        assert raw.shape == (160, 120) and (raw == 0).any() and (raw > 0).any()  # MATLAB's transposed layout
    with NyuLabeledMat(tmp_path / "nyu_depth_data_labeled.mat", "v1", expected_size=(120, 160)) as mat:
        assert mat.names == list(synthetic_hard.HARD_V1_NAMES)
    assert synthesize.main([str(tmp_path / "x"), "--world=bogus"]) == 2
