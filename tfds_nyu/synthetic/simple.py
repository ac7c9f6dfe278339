"""The simple synthetic world (the demo's): furnished boxes of rooms where the photo gives a lot away.

Rendering: one ray per pixel through the Kinect colour intrinsics, intersected with the
room's walls, floor and ceiling and with axis-aligned furniture boxes that occlude one
another. Depth is the camera-z distance in metres (NYU's convention). Labels come from a
small NYU-like vocabulary; v1 and v2 number it differently, so merging by name is
exercised. Colour is shaded per class with world-space texture, a point light with
distance fall-off and a little haze, so that depth can be learned from appearance. Several
frames of one scene come from different camera poses. The raw depth is the shared Kinect
model's ``SIMPLE`` preset (``tfds_nyu.synthetic.kinect``); ``depth`` is the rendered depth,
without holes. Deterministic in (seed, scene, pose).
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import numpy as np

from tfds_nyu.kinect_camera import intrinsics_for
from tfds_nyu.synthetic import kinect
from tfds_nyu.synthetic.frame import MAX_DEPTH, RenderedFrame

__all__ = ["V1_NAMES", "V2_NAMES", "Box", "Scene", "make_scene", "render"]


# NYU-like vocabularies. v1 numbers classes differently, lacks 'lamp' and adds 'blinds'.
V2_NAMES = (
    "book",
    "cabinet",
    "ceiling",
    "chair",
    "floor",
    "table",
    "wall",
    "bed",
    "sofa",
    "window",
    "picture",
    "door",
    "desk",
    "lamp",
    "bookshelf",
)
V1_NAMES = (
    "wall",
    "floor",
    "ceiling",
    "bed",
    "window",
    "picture",
    "table",
    "chair",
    "sofa",
    "cabinet",
    "desk",
    "door",
    "bookshelf",
    "book",
    "blinds",
)

# Base albedo (linear RGB) per class.
_ALBEDO = {
    "wall": (0.78, 0.74, 0.66),
    "floor": (0.55, 0.38, 0.22),
    "ceiling": (0.92, 0.92, 0.9),
    "bed": (0.35, 0.45, 0.7),
    "table": (0.6, 0.42, 0.25),
    "chair": (0.3, 0.3, 0.32),
    "cabinet": (0.72, 0.62, 0.45),
    "sofa": (0.55, 0.2, 0.2),
    "window": (0.7, 0.85, 0.95),
    "picture": (0.25, 0.5, 0.35),
    "door": (0.5, 0.33, 0.2),
    "desk": (0.45, 0.4, 0.35),
    "lamp": (0.95, 0.9, 0.6),
    "bookshelf": (0.4, 0.28, 0.18),
    "book": (0.7, 0.2, 0.15),
    "blinds": (0.85, 0.85, 0.8),
}
_SCENE_TYPES = ("bedroom", "living_room", "office", "study")


@dataclasses.dataclass(frozen=True)
class Box:
    name: str
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    tint: tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Scene:
    """A room [0, W] x [0, D] x [0, H] (x right, y forward, z up) with furniture boxes."""

    name: str
    scene_type: str
    size: tuple[float, float, float]
    boxes: tuple[Box, ...]
    light: tuple[float, float, float]
    seed: int


def _box_on_floor(rng, name, room, footprint, height, y_range, against_wall=False) -> Box:
    w, d, _ = room
    sx, sy = footprint
    x0 = rng.uniform(0.1, max(0.11, w - sx - 0.1))
    y0 = d - sy - 0.02 if against_wall else rng.uniform(*y_range)
    y0 = min(max(y0, 1.6), d - sy - 0.02)
    return Box(name, (x0, y0, 0.0), (x0 + sx, y0 + sy, height), tuple(rng.uniform(0.8, 1.2, 3)))


def _box_on_wall(rng, name, room, size, z_range, wall="far") -> Box:
    w, d, _ = room
    sx, sz = size
    z0 = rng.uniform(*z_range)
    if wall == "far":
        x0 = rng.uniform(0.2, max(0.21, w - sx - 0.2))
        return Box(name, (x0, d - 0.04, z0), (x0 + sx, d, z0 + sz), tuple(rng.uniform(0.8, 1.2, 3)))
    y0 = rng.uniform(2.0, max(2.01, d - sx - 0.3))
    x_lo, x_hi = (0.0, 0.04) if wall == "left" else (w - 0.04, w)
    return Box(name, (x_lo, y0, z0), (x_hi, y0 + sx, z0 + sz), tuple(rng.uniform(0.8, 1.2, 3)))


def make_scene(index: int, seed: int, scene_type: str | None = None) -> Scene:
    """A random room, deterministic in (seed, index)."""
    rng = np.random.default_rng([seed, index])
    scene_type = scene_type or _SCENE_TYPES[int(rng.integers(len(_SCENE_TYPES)))]
    room = (rng.uniform(3.5, 6.0), rng.uniform(4.5, 8.0), rng.uniform(2.5, 3.1))
    far = (2.2, room[1] - 1.2)
    boxes = [
        _box_on_wall(rng, "picture", room, (rng.uniform(0.5, 1.2), rng.uniform(0.4, 0.8)), (1.2, 1.6)),
        _box_on_wall(
            rng,
            "window" if rng.random() < 0.7 else "blinds",
            room,
            (rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.2)),
            (0.9, 1.3),
            wall="left" if rng.random() < 0.5 else "right",
        ),
        _box_on_wall(rng, "door", room, (0.9, 2.05), (0.0, 0.001), wall="right" if rng.random() < 0.5 else "left"),
    ]
    if scene_type == "bedroom":
        boxes += [
            _box_on_floor(rng, "bed", room, (1.5, 2.0), 0.55, far, against_wall=True),
            _box_on_floor(rng, "cabinet", room, (0.5, 0.45), 0.6, far),
        ]
        top = boxes[-1]
        boxes.append(
            Box(
                "lamp",
                (top.lo[0] + 0.15, top.lo[1] + 0.1, 0.6),
                (top.lo[0] + 0.35, top.lo[1] + 0.3, 0.95),
                (1.0, 1.0, 1.0),
            )
        )
    elif scene_type == "living_room":
        boxes += [
            _box_on_floor(rng, "sofa", room, (2.0, 0.9), 0.8, far, against_wall=True),
            _box_on_floor(rng, "table", room, (1.0, 0.6), 0.45, (2.0, room[1] - 2.0)),
        ]
    else:  # office, study
        desk = _box_on_floor(rng, "desk", room, (1.4, 0.7), 0.75, far)
        boxes += [desk, _box_on_floor(rng, "bookshelf", room, (0.9, 0.35), 1.9, far, against_wall=True)]
        boxes.append(
            Box(
                "book",
                (desk.lo[0] + 0.2, desk.lo[1] + 0.1, 0.75),
                (desk.lo[0] + 0.5, desk.lo[1] + 0.35, 0.82),
                tuple(rng.uniform(0.6, 1.4, 3)),
            )
        )
    for _ in range(int(rng.integers(1, 3))):
        boxes.append(_box_on_floor(rng, "chair", room, (0.45, 0.45), rng.uniform(0.8, 1.0), (1.8, room[1] - 1.0)))
    if rng.random() < 0.5:
        boxes.append(_box_on_floor(rng, "cabinet", room, (rng.uniform(0.5, 1.0), 0.45), rng.uniform(0.7, 1.4), far))
    light = (room[0] * rng.uniform(0.3, 0.7), room[1] * rng.uniform(0.3, 0.7), room[2] - 0.15)
    return Scene(f"{scene_type}_{index:04d}", scene_type, room, tuple(boxes), light, seed)


def _camera(rng, scene: Scene):
    w, _, _ = scene.size
    origin = np.array([rng.uniform(0.8, w - 0.8), rng.uniform(0.3, 1.0), rng.uniform(1.0, 1.7)])
    yaw = math.radians(rng.uniform(-30, 30))
    pitch = math.radians(rng.uniform(-25, 2))
    forward = np.array([math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = -np.cross(right, forward)
    return origin, right, down, forward


def render(scene: Scene, pose: int, height: int = 480, width: int = 640) -> RenderedFrame:
    """Ray-cast one frame of ``scene`` from camera pose number ``pose``."""
    rng = np.random.default_rng([scene.seed, zlib.crc32(scene.name.encode()), pose])
    origin, right, down, forward = _camera(rng, scene)
    fx, fy, cx, cy = intrinsics_for(height, width)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    xc, yc = (u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy
    # World direction per axis, with unit camera-z component: the ray parameter t is NYU's depth.
    # Components are kept as separate (H, W) planes: numpy reduces over a length-3 axis slowly.
    d = [(xc * right[a] + yc * down[a] + forward[a]).astype(np.float32) for a in range(3)]
    d = [np.where(np.abs(c) < 1e-7, np.float32(1e-7), c) for c in d]
    inv = [1.0 / c for c in d]

    # The room's interior: the ray leaves through the nearest of the three planes ahead.
    exits = [np.where(d[a] > 0, (scene.size[a] - origin[a]) * inv[a], -origin[a] * inv[a]) for a in range(3)]
    t = np.minimum(np.minimum(exits[0], exits[1]), exits[2])
    axis = np.where(t == exits[0], 0, np.where(t == exits[1], 1, 2))
    normal = [np.where(axis == a, -np.sign(d[a]), 0).astype(np.float32) for a in range(3)]
    class_index = np.where(axis == 2, np.where(d[2] < 0, 1, 2), 0)  # 0 wall, 1 floor, 2 ceiling
    hit_box = np.full(t.shape, -1, np.int32)
    for k, box in enumerate(scene.boxes):
        t1 = [(box.lo[a] - origin[a]) * inv[a] for a in range(3)]
        t2 = [(box.hi[a] - origin[a]) * inv[a] for a in range(3)]
        near = [np.minimum(t1[a], t2[a]) for a in range(3)]
        t_in = np.maximum(np.maximum(near[0], near[1]), near[2])
        t_out = np.minimum(np.minimum(np.maximum(t1[0], t2[0]), np.maximum(t1[1], t2[1])), np.maximum(t1[2], t2[2]))
        hit = (t_out >= t_in) & (t_in > 1e-3) & (t_in < t)  # in front of everything hit so far
        if not hit.any():
            continue
        face = np.where(t_in == near[0], 0, np.where(t_in == near[1], 1, 2))  # the slab entered last
        t = np.where(hit, t_in, t)
        for a in range(3):
            normal[a] = np.where(hit, np.where(face == a, -np.sign(d[a]), 0), normal[a]).astype(np.float32)
        hit_box = np.where(hit, k, hit_box)

    names = ["wall", "floor", "ceiling"]
    tint = np.ones((*t.shape, 3), np.float32)
    for k, box in enumerate(scene.boxes):
        mask = hit_box == k
        if not mask.any():
            continue
        if box.name not in names:
            names.append(box.name)
        class_index = np.where(mask, names.index(box.name), class_index)
        tint[mask] = box.tint
    instance = (hit_box + 1).astype(np.uint8)
    depth = t
    point = np.stack([origin[a] + t * d[a] for a in range(3)], axis=-1)
    normal = np.stack(normal, axis=-1)

    image = _shade(scene, names, class_index, point, normal, tint, depth, rng)
    labels = (class_index + 1).astype(np.uint16)  # 1-based index into ``names``
    depth32 = np.clip(depth, 0.3, MAX_DEPTH).astype(np.float32)
    raw = kinect.raw_depth(depth32, rng, kinect.SIMPLE)
    return RenderedFrame(image, depth32, raw, labels, tuple(names), instance)


def _shade(scene, names, class_index, point, normal, tint, depth, rng) -> np.ndarray:
    albedo_table = np.array([_ALBEDO[n] for n in names])
    albedo = albedo_table[class_index] * tint
    px, py, pz = point[..., 0], point[..., 1], point[..., 2]
    # World-space texture: planks on the floor, a soft pattern on walls, grain on furniture.
    texture = np.ones(depth.shape)
    floor = class_index == names.index("floor")
    texture[floor] = 0.82 + 0.18 * (np.floor(px[floor] / 0.18) % 2) + 0.05 * np.sin(py[floor] * 23.0)
    wall = class_index == names.index("wall")
    texture[wall] = 0.93 + 0.07 * np.sin(px[wall] * 6.0 + py[wall] * 6.0) * np.sin(pz[wall] * 9.0)
    furniture = class_index > 2
    texture[furniture] = 0.9 + 0.1 * np.sin((px + py + pz)[furniture] * 31.0)
    to_light = np.asarray(scene.light) - point
    dist2 = np.sum(to_light**2, axis=-1)
    lambert = np.clip(np.sum(normal * to_light, axis=-1) / np.sqrt(dist2), 0.0, 1.0)
    light = 0.25 + 1.6 * lambert / (1.0 + 0.12 * dist2)
    color = albedo * texture[..., None] * light[..., None]
    color *= np.exp(-0.035 * depth)[..., None]  # haze: far things are dimmer
    color += rng.normal(0.0, 0.008, color.shape)
    return (np.clip(color, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)
