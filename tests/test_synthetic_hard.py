"""The synthetic worlds: the hard world's geometry, the shared Kinect model, statistics, the package's layout."""

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
from tfds_nyu import synthetic
from tfds_nyu.synthetic import kinect
from tfds_nyu.synthetic.hard_scene import Solid
from tfds_nyu.synthetic.inpaint import inpaint_depth
from tfds_nyu.synthetic.raycast import hit_box as _hit_box
from tfds_nyu.synthetic.raycast import hit_cylinder as _hit_cylinder
from tfds_nyu.synthetic.raycast import hit_sphere as _hit_sphere

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
    model = args.pop("model", kinect.HARD)
    rng = args.pop("rng")
    return kinect.raw_depth(depth.astype(np.float32), rng, model, **args)


def test_raw_depth_is_quantised_in_disparity_and_holed_in_the_projectors_shadow():
    h, w = 480, 640
    depth = np.full((h, w), 4.0, np.float32)
    depth[:, 300:400] = 1.0  # a near post in front of a wall 4 m away
    raw = _raw(depth)
    fb = 582.6 * kinect.KINECT_BASELINE
    valid = raw > 0
    # Every reading is fx * b / (k / 8) for an integer k: the disparity grid.
    steps = fb / raw[valid] / kinect.DISPARITY_STEP
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
    top, bottom, left, right = kinect.REGISTRATION_BORDER
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
    scene = synthetic.make_hard_scene(3, seed=5)
    a, b = synthetic.render_hard(scene, 1, 120, 160), synthetic.render_hard(scene, 1, 120, 160)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.raw_depth, b.raw_depth)
    other = synthetic.render_hard(scene, 2, 120, 160)
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
        make, render, names, _ = synthetic.world(world)
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
        assert mat.names == list(synthetic.HARD_V2_NAMES) and len(mat) == 2
        frame = mat.frame(0)
        assert (frame.depth > 0).all()  # `depths`: in-painted
    with h5py.File(tmp_path / "nyu_depth_v2_labeled.mat") as f:
        raw = f["rawDepths"][0]
        assert raw.shape == (160, 120) and (raw == 0).any() and (raw > 0).any()  # MATLAB's transposed layout
    with NyuLabeledMat(tmp_path / "nyu_depth_data_labeled.mat", "v1", expected_size=(120, 160)) as mat:
        assert mat.names == list(synthetic.HARD_V1_NAMES)
    assert synthesize.main([str(tmp_path / "x"), "--world=bogus"]) == 2


# ------------------------------------------------------------------ the shared Kinect model, simple preset


def test_the_simple_preset_holes_depth_edges_far_readings_and_one_pixel_in_a_hundred():
    h, w = 200, 300
    depth = np.full((h, w), 2.0, np.float32)
    depth[:, 150:] = 4.0  # a 2 m step: np.gradient is 1.0 m/px on both columns beside it
    depth[:20, :] = 9.75  # beyond the preset's 9.5 m
    raw = kinect.raw_depth(depth, np.random.default_rng(7), kinect.SIMPLE)
    assert (raw[:, 149:151] == 0).all()  # the edge
    assert (raw[:20] == 0).all()  # out of range
    read = raw > 0
    assert np.array_equal(raw[read], depth[read])  # no quantisation: a reading is the depth
    # Away from the edge and the far band only the 1 % dropouts remain.
    inner = raw[25:, np.r_[0:148, 152:300]]
    assert 0.005 < (inner == 0).mean() < 0.015
    assert raw.dtype == np.float32


def test_a_kinect_model_that_works_in_disparity_needs_the_focal_length():
    with pytest.raises(ValueError, match="fx"):
        kinect.raw_depth(np.ones((32, 32), np.float32), np.random.default_rng(0), kinect.HARD)
    with pytest.raises(ValueError, match="edges"):
        kinect.KinectModel(edges="blur", max_range=9.0, dropout=0.0)


# ------------------------------------------------------------------ the package's layout


def _intra_package_imports(package: pathlib.Path, dotted: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (``__init__`` for the package itself)."""
    import ast

    modules = {p.stem for p in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(dotted):
                rest = node.module[len(dotted) :].lstrip(".")
                if rest:
                    edges.add(rest.split(".")[0])
                else:  # from tfds_nyu.synthetic import X: a submodule, or a name of __init__
                    edges |= {a.name if a.name in modules else "__init__" for a in node.names}
        graph[path.stem] = edges - {path.stem}
    return graph


def test_the_synthetic_package_has_no_import_cycles_and_no_module_imports_rsn_tf():
    import ast

    graph = _intra_package_imports(ROOT / "tfds_nyu" / "synthetic", "tfds_nyu.synthetic")
    assert graph["__init__"] and all("__init__" not in e for m, e in graph.items() if m != "__init__")
    done, active = set(), []

    def visit(module):  # depth-first search: a module met again while active closes a cycle
        assert module not in active, f"import cycle: {' -> '.join([*active, module])}"
        if module in done:
            return
        active.append(module)
        for other in graph.get(module, ()):
            visit(other)
        active.pop()
        done.add(module)

    for module in graph:
        visit(module)
    for path in (ROOT / "tfds_nyu").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "rsn_tf" for n in names), f"{path} imports rsn_tf"
