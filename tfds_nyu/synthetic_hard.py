"""A harder synthetic world: appearance that says neither the class nor the distance.

The first synthetic world (``tfds_nyu.synthetic``) shades every class in its own colour
and dims far things with haze, so the photo carries both the semantic map and the depth.
This world is built so that neither is free:

* **Appearance.** Every object instance draws two colours from one palette shared by all
  classes and one procedural texture (plain, stripes, checks, noise, grain); 2-4 point
  lights of random colour and strength, an emissive lamp or window now and then, and a
  per-frame auto-exposure. No haze.
* **Geometry.** Rooms 2-10 m deep (corridors included), furniture rotated about the
  vertical, made of several parts (tables and chairs have legs), cylinders and spheres
  (lamps, bins, pots, plants, cups), clutter of books and boxes on tables and shelves,
  open doors, rows of chairs and desks (one class over a wide depth range).
* **Camera.** A handheld Kinect: height 0.9-1.8 m, pitch -35 to +8 degrees, roll +-8
  degrees, yaw +-50 degrees.
* **Depth like NYU's labelled set.** ``raw_depth`` is a Kinect-like reading: disparity
  quantised to 1/8 pixel (about 7 cm at 5 m), holes in the projector's shadow beside
  near edges, on dark and glossy surfaces, windows and screens, at grazing angles and
  beyond range; ``depth`` is that reading in-painted, as NYU fills its labelled frames.

The parameters (room sizes, clutter, hole rates) were set from the statistics of real
NYU frames (``bench/world_statistics.py``, BENCHMARKS.md), not from training outcomes.
Deterministic in (seed, scene, pose), like the first world; it writes the same NYU
``.mat`` layout through ``tfds_nyu.synthetic.generate(world="hard")``.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import cv2
import numpy as np

from tfds_nyu.kinect_camera import intrinsics_for
from tfds_nyu.synthetic import MAX_DEPTH, RenderedFrame

__all__ = [
    "HARD_V1_NAMES",
    "HARD_V2_NAMES",
    "HardScene",
    "Solid",
    "kinect_raw_depth",
    "make_hard_scene",
    "render_hard",
]

# Class tables of the two releases (v1 lacks 'lamp' and 'plant', adds 'blinds', numbers differently).
# Objects named outside a table ('cup', 'bottle') are written unlabelled (0), as NYU leaves many.
HARD_V2_NAMES = (
    "wall",
    "floor",
    "ceiling",
    "bed",
    "table",
    "chair",
    "sofa",
    "window",
    "picture",
    "door",
    "desk",
    "lamp",
    "bookshelf",
    "book",
    "cabinet",
    "pillow",
    "box",
    "garbage bin",
    "plant",
    "television",
)
HARD_V1_NAMES = (
    "floor",
    "wall",
    "ceiling",
    "table",
    "chair",
    "bed",
    "sofa",
    "cabinet",
    "desk",
    "bookshelf",
    "book",
    "door",
    "window",
    "picture",
    "pillow",
    "box",
    "garbage bin",
    "television",
    "blinds",
)
HARD_SCENE_TYPES = ("bedroom", "living_room", "office", "classroom", "corridor", "dining_room", "library")

# One palette for every class (linear RGB): whites, greys, beiges, woods, blues, reds, greens, darks.
PALETTE = np.array(
    [
        (0.85, 0.84, 0.80),
        (0.70, 0.70, 0.68),
        (0.45, 0.45, 0.46),
        (0.20, 0.20, 0.21),
        (0.05, 0.05, 0.06),
        (0.80, 0.72, 0.58),
        (0.62, 0.50, 0.36),
        (0.42, 0.28, 0.16),
        (0.25, 0.15, 0.08),
        (0.20, 0.32, 0.60),
        (0.45, 0.60, 0.80),
        (0.60, 0.15, 0.12),
        (0.85, 0.45, 0.35),
        (0.20, 0.45, 0.25),
        (0.55, 0.65, 0.35),
        (0.80, 0.70, 0.20),
        (0.50, 0.30, 0.50),
        (0.10, 0.20, 0.30),
    ],
    np.float32,
)
TEXTURES = ("plain", "stripes", "checks", "noise", "grain")

# Kinect v1 geometry for the raw depth (Khoshelham & Elberink 2012: 1/8-pixel disparity steps).
KINECT_BASELINE = 0.075  # metres between the IR projector and the IR camera
DISPARITY_STEP = 1.0 / 8.0  # pixels
KINECT_MAX_RANGE = 9.0  # metres: beyond this the reading is mostly missing
REGISTRATION_BORDER = (44, 8, 38, 33)  # top, bottom, left, right pixels without depth at 480x640 (NYU's)


@dataclasses.dataclass(frozen=True)
class Material:
    colors: tuple[tuple[float, float, float], tuple[float, float, float]]
    texture: str
    frequency: float  # texture cycles per metre
    direction: tuple[float, float, float]
    glossy: bool = False  # specular: the Kinect's pattern is lost (screens, glass, lacquer)
    emissive: float = 0.0  # added radiance (lamp shades, daylight in windows)


@dataclasses.dataclass(frozen=True)
class Solid:
    """One primitive. box: centre, half extents, yaw about z; cylinder: base centre, (r, r, height);
    sphere: centre, (r, r, r)."""

    kind: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    name: str
    instance: int
    material: int


@dataclasses.dataclass(frozen=True)
class HardScene:
    name: str
    scene_type: str
    size: tuple[float, float, float]  # room [0, W] x [0, D] x [0, H]
    solids: tuple[Solid, ...]
    materials: tuple[Material, ...]
    room_materials: tuple[int, ...]  # left, right, back, far wall, floor, ceiling
    lights: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...]  # position, colour*power
    seed: int


# ---------------------------------------------------------------------------------------- scenes


class _SceneBuilder:
    """Places objects in a room, each made of solids sharing one instance number and material."""

    def __init__(self, rng: np.random.Generator, size: tuple[float, float, float]):
        self.rng = rng
        self.size = size
        self.solids: list[Solid] = []
        self.materials: list[Material] = []
        self.footprints: list[tuple[float, float, float]] = []  # x, y, radius of what stands on the floor
        self.instances = 0
        # The camera stands in the front part of the room; nothing is placed there.
        self.free_y = min(1.3, 0.45 * size[1])

    def material(
        self, glossy: float = 0.05, emissive: float = 0.0, dark_bias: bool = False, surface: bool = False
    ) -> int:
        """A material for one object. ``surface``: walls, floor, ceiling, mostly plain or faintly
        patterned paint, carpet or boards, still drawn from the one palette."""
        rng = self.rng
        first = PALETTE[rng.integers(len(PALETTE))] * rng.uniform(0.8, 1.15, 3)
        second = first * rng.uniform(0.3, 0.8) if rng.random() < 0.5 else PALETTE[rng.integers(len(PALETTE))]
        texture = TEXTURES[rng.integers(len(TEXTURES))]
        if surface:
            second = first * rng.uniform(0.8, 0.95)
            texture = rng.choice(TEXTURES, p=(0.55, 0.1, 0.05, 0.2, 0.1))
        if dark_bias:
            first = first * 0.3
        d = rng.normal(size=3)
        self.materials.append(
            Material(
                (tuple(np.clip(first, 0.02, 1.0)), tuple(np.clip(second, 0.02, 1.0))),
                str(texture),
                float(math.exp(rng.uniform(math.log(1.5), math.log(25.0)))),
                tuple(d / np.linalg.norm(d)),
                bool(rng.random() < glossy),
                emissive,
            )
        )
        return len(self.materials) - 1

    def new_instance(self) -> int:
        self.instances = min(self.instances + 1, 255)
        return self.instances

    def add(self, kind, name, inst, mat, center, size, yaw=0.0) -> None:
        self.solids.append(Solid(kind, tuple(map(float, center)), tuple(map(float, size)), float(yaw), name, inst, mat))

    def part(self, name, inst, mat, x, y, yaw, offset, z0, dims) -> None:
        """A box part of an object at (x, y, yaw): ``offset`` in the object's frame, ``dims`` full sizes."""
        c, s = math.cos(yaw), math.sin(yaw)
        ox, oy = offset
        self.add(
            "box",
            name,
            inst,
            mat,
            (x + ox * c - oy * s, y + ox * s + oy * c, z0 + dims[2] / 2),
            np.array(dims) / 2,
            yaw,
        )

    def placed(self, at, radius: float, near_wall: bool = False, **material: object):
        """(x, y, yaw, instance, material) for a new object: ``at`` if given, else a free ``spot``."""
        at = at or self.spot(radius, near_wall=near_wall)
        if at is None:
            return None
        return (*at, self.new_instance(), self.material(**material))

    def spot(self, radius: float, near_wall: bool = False, y_range=None) -> tuple[float, float, float] | None:
        """A free floor position (x, y, yaw) for an object of footprint ``radius``, or None."""
        w, d, _ = self.size
        rng = self.rng
        for _ in range(12):
            lo_y = self.free_y + radius if y_range is None else max(self.free_y + radius, y_range[0])
            hi_y = d - radius - 0.02 if y_range is None else min(d - radius - 0.02, y_range[1])
            if hi_y <= lo_y or w - 2 * radius - 0.04 <= 0:
                return None
            if near_wall:
                side = rng.integers(3)
                if side == 0:
                    x, y, yaw = radius * 0.7 + 0.02, rng.uniform(lo_y, hi_y), -math.pi / 2
                elif side == 1:
                    x, y, yaw = w - radius * 0.7 - 0.02, rng.uniform(lo_y, hi_y), math.pi / 2
                else:
                    x, y, yaw = rng.uniform(radius, w - radius), d - radius * 0.7 - 0.02, 0.0
                yaw += rng.normal(0, 0.03)
            else:
                x, y, yaw = (
                    rng.uniform(radius + 0.02, w - radius - 0.02),
                    rng.uniform(lo_y, hi_y),
                    rng.uniform(0, 2 * math.pi),
                )
            if all(math.hypot(x - fx, y - fy) > 0.85 * (radius + fr) for fx, fy, fr in self.footprints):
                self.footprints.append((x, y, radius))
                return x, y, yaw
        return None

    # -------------------------------------------------------------------- objects

    def table(self, name="table", at=None, clutter=True) -> None:
        rng = self.rng
        w, dp, h = rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.0), rng.uniform(0.68, 0.78)
        placed = self.placed(at, 0.5 * math.hypot(w, dp))
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        self.part(name, inst, mat, x, y, yaw, (0, 0), h - 0.04, (w, dp, 0.04))
        if rng.random() < 0.5 and name == "desk":  # a desk's drawer block
            self.part(name, inst, mat, x, y, yaw, (w / 2 - 0.22, 0), 0, (0.4, dp - 0.05, h - 0.04))
        for sx in (-1, 1):
            for sy in (-1, 1):
                self.part(
                    name, inst, mat, x, y, yaw, (sx * (w / 2 - 0.05), sy * (dp / 2 - 0.05)), 0, (0.05, 0.05, h - 0.04)
                )
        if clutter:
            self.clutter_on(x, y, yaw, w, dp, h, int(rng.integers(0, 6)))
        if name == "desk" and rng.random() < 0.5:
            self.screen(x, y, yaw, h)

    def screen(self, x, y, yaw, h) -> None:
        inst = self.new_instance()
        mat = self.material(glossy=1.0, dark_bias=True)
        self.part("television", inst, mat, x, y, yaw, (0, 0.15), h, (0.55, 0.05, 0.38))

    def clutter_on(self, x, y, yaw, w, dp, h, count: int) -> None:
        """Books, boxes, cups, bottles and pots on a surface of size w x dp at height h."""
        rng = self.rng
        c, s = math.cos(yaw), math.sin(yaw)
        for _ in range(count):
            ox, oy = rng.uniform(-w / 2 + 0.1, w / 2 - 0.1), rng.uniform(-dp / 2 + 0.1, dp / 2 - 0.1)
            px, py = x + ox * c - oy * s, y + ox * s + oy * c
            kind = rng.choice(["book", "book", "box", "cup", "bottle", "plant", "paper"])
            inst, mat = self.new_instance(), self.material(glossy=0.15)
            if kind == "book":  # a small stack
                z = h
                for _ in range(int(rng.integers(1, 4))):
                    dims = (rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.3), rng.uniform(0.02, 0.06))
                    self.part("book", inst, mat, px, py, yaw + rng.normal(0, 0.3), (0, 0), z, dims)
                    z += dims[2]
                    inst, mat = self.new_instance(), self.material()
            elif kind == "paper":  # a flat sheet pile, unlabelled
                self.part("paper", inst, mat, px, py, rng.uniform(0, math.pi), (0, 0), h, (0.21, 0.3, 0.01))
            elif kind == "box":
                dims = rng.uniform(0.1, 0.35, 3)
                self.part("box", inst, mat, px, py, rng.uniform(0, math.pi), (0, 0), h, dims)
            elif kind in ("cup", "bottle"):
                r, ht = (0.04, 0.1) if kind == "cup" else (0.035, 0.28)
                self.add("cylinder", kind, inst, mat, (px, py, h), (r, r, ht))
            else:
                self.pot_plant(px, py, h, 0.07)

    def pot_plant(self, x, y, z, r) -> None:
        inst = self.new_instance()
        self.add("cylinder", "plant", inst, self.material(), (x, y, z), (r, r, 2.2 * r))
        leaves = self.material()
        self.add("sphere", "plant", inst, leaves, (x, y, z + 2.2 * r + 1.6 * r), (2 * r, 2 * r, 2 * r))

    def chair(self, at=None) -> None:
        rng = self.rng
        placed = self.placed(at, 0.33)
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        seat, sz = rng.uniform(0.42, 0.5), rng.uniform(0.42, 0.48)
        self.part("chair", inst, mat, x, y, yaw, (0, 0), sz, (seat, seat, 0.05))
        self.part("chair", inst, mat, x, y, yaw, (0, -seat / 2 + 0.03), sz + 0.05, (seat, 0.05, rng.uniform(0.35, 0.5)))
        for sx in (-1, 1):
            for sy in (-1, 1):
                self.part(
                    "chair", inst, mat, x, y, yaw, (sx * (seat / 2 - 0.03), sy * (seat / 2 - 0.03)), 0, (0.04, 0.04, sz)
                )

    def sofa(self) -> None:
        rng = self.rng
        w, dp = rng.uniform(1.4, 2.4), rng.uniform(0.8, 1.0)
        placed = self.placed(None, 0.5 * w, near_wall=True)
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        self.part("sofa", inst, mat, x, y, yaw, (0, 0), 0, (w, dp, 0.42))
        self.part("sofa", inst, mat, x, y, yaw, (0, dp / 2 - 0.1), 0.42, (w, 0.2, 0.4))
        for sx in (-1, 1):
            self.part("sofa", inst, mat, x, y, yaw, (sx * (w / 2 - 0.1), 0), 0.42, (0.2, dp, 0.2))
        for k in range(int(rng.integers(0, 3))):
            self.part(
                "pillow",
                self.new_instance(),
                self.material(),
                x,
                y,
                yaw + rng.normal(0, 0.2),
                (-w / 2 + 0.45 + 0.5 * k, dp / 2 - 0.3),
                0.42,
                (0.4, 0.15, 0.35),
            )

    def bed(self) -> None:
        rng = self.rng
        w, ln = rng.uniform(1.0, 1.8), rng.uniform(1.9, 2.1)
        placed = self.placed(None, 0.5 * ln, near_wall=True)
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        self.part("bed", inst, mat, x, y, yaw, (0, -ln / 2 + 0.5 * ln), 0, (w, ln, rng.uniform(0.45, 0.6)))
        self.part("bed", inst, mat, x, y, yaw, (0, ln / 2 - 0.03 + 0.5 * ln - ln / 2), 0, (w, 0.06, 1.0))
        for k in range(int(rng.integers(1, 3))):
            self.part(
                "pillow",
                self.new_instance(),
                self.material(),
                x,
                y,
                yaw,
                (-w / 4 + k * w / 2, ln - 0.35),
                0.55,
                (w / 2.4, 0.4, 0.14),
            )

    def cabinet(self, name="cabinet") -> None:
        rng = self.rng
        w, dp, h = rng.uniform(0.5, 1.4), rng.uniform(0.4, 0.6), rng.uniform(0.5, 2.0)
        placed = self.placed(None, 0.5 * w, near_wall=True, glossy=0.2)
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        self.part(name, inst, mat, x, y, yaw, (0, 0), 0, (w, dp, h))
        if h < 1.1:
            r = rng.random()
            if r < 0.35:
                self.screen(x, y, yaw + math.pi, h)
            elif r < 0.6:
                self.lamp(x, y, h, small=True)
            else:
                self.clutter_on(x, y, yaw, w, dp, h, int(rng.integers(0, 4)))

    def bookshelf(self) -> None:
        rng = self.rng
        w, dp, h = rng.uniform(0.7, 1.6), rng.uniform(0.3, 0.4), rng.uniform(1.2, 2.2)
        placed = self.placed(None, 0.5 * w, near_wall=True)
        if placed is None:
            return
        x, y, yaw, inst, mat = placed
        self.part("bookshelf", inst, mat, x, y, yaw, (0, dp / 2 - 0.02), 0, (w, 0.04, h))  # back panel
        for sx in (-1, 1):
            self.part("bookshelf", inst, mat, x, y, yaw, (sx * (w / 2 - 0.02), 0), 0, (0.04, dp, h))
        shelves = int(rng.integers(3, 6))
        for k in range(shelves + 1):
            z = k * (h - 0.03) / shelves
            self.part("bookshelf", inst, mat, x, y, yaw, (0, 0), z, (w, dp, 0.03))
            if k == shelves:
                break
            u = -w / 2 + 0.05
            while u < w / 2 - 0.1 and rng.random() < 0.93:  # a row of books, with gaps
                thick, tall = rng.uniform(0.02, 0.06), rng.uniform(0.15, min(0.32, (h - 0.03) / shelves - 0.05))
                self.part(
                    "book",
                    self.new_instance(),
                    self.material(),
                    x,
                    y,
                    yaw,
                    (u + thick / 2, rng.uniform(-0.03, 0.03)),
                    z + 0.03,
                    (thick, dp * 0.8, tall),
                )
                u += thick + (rng.uniform(0.05, 0.2) if rng.random() < 0.1 else 0.003)

    def lamp(self, x=None, y=None, z=0.0, small=False) -> None:
        rng = self.rng
        if x is None:
            at = self.spot(0.25)
            if at is None:
                return
            x, y, _ = at
        inst, mat = self.new_instance(), self.material()
        pole = rng.uniform(0.25, 0.45) if small else rng.uniform(1.2, 1.7)
        self.add("cylinder", "lamp", inst, mat, (x, y, z), (0.015, 0.015, pole))
        shade = self.material(emissive=float(rng.uniform(0.3, 1.0)))
        if rng.random() < 0.5:
            r = rng.uniform(0.1, 0.22)
            self.add("cylinder", "lamp", inst, shade, (x, y, z + pole), (r, r, rng.uniform(0.15, 0.3)))
        else:
            r = rng.uniform(0.08, 0.16)
            self.add("sphere", "lamp", inst, shade, (x, y, z + pole + r), (r, r, r))

    def floor_things(self) -> None:
        rng = self.rng
        for _ in range(int(rng.integers(1, 6))):
            kind = rng.choice(["garbage bin", "box", "plant", "clothes", "bag"])
            at = self.spot(0.25)
            if at is None:
                return
            x, y, yaw = at
            if kind == "garbage bin":
                r = rng.uniform(0.12, 0.2)
                self.add(
                    "cylinder", kind, self.new_instance(), self.material(), (x, y, 0), (r, r, rng.uniform(0.3, 0.5))
                )
            elif kind == "box":
                self.part("box", self.new_instance(), self.material(), x, y, yaw, (0, 0), 0, rng.uniform(0.2, 0.5, 3))
            elif kind == "plant":
                self.pot_plant(x, y, 0.0, rng.uniform(0.1, 0.18))
            else:  # outside every class table: written unlabelled, as NYU leaves much clutter
                self.heap(kind, x, y, 0.0)

    def heap(self, kind, x, y, z) -> None:
        """A soft pile (clothes) or a bag: a few squashed spheres and boxes, unlabelled in the files."""
        rng = self.rng
        inst = self.new_instance()
        for _ in range(int(rng.integers(1, 4))):
            mat = self.material()
            if kind == "clothes":
                r = rng.uniform(0.08, 0.2)
                self.add(
                    "sphere", kind, inst, mat, (x + rng.normal(0, 0.1), y + rng.normal(0, 0.1), z + 0.3 * r), (r, r, r)
                )
            else:
                self.part(
                    kind,
                    inst,
                    mat,
                    x,
                    y,
                    rng.uniform(0, math.pi),
                    (rng.normal(0, 0.05), 0),
                    z,
                    (rng.uniform(0.2, 0.45), rng.uniform(0.1, 0.25), rng.uniform(0.2, 0.45)),
                )

    def wall_things(self) -> None:
        """Pictures, windows (glossy, often bright) and a door, closed or open, on the walls."""
        rng = self.rng
        w, d, hgt = self.size
        for _ in range(int(rng.integers(2, 7))):
            kind = rng.choice(["picture", "picture", "window", "blinds", "picture", "whiteboard"])
            sx, sz = (
                (rng.uniform(0.3, 1.4), rng.uniform(0.3, 1.0))
                if kind == "picture"
                else (rng.uniform(0.8, 2.0), rng.uniform(0.8, 1.4))
            )
            z0 = rng.uniform(0.9, max(0.91, hgt - sz - 0.2))
            mat = self.material(
                glossy=1.0 if kind == "window" else 0.2,
                emissive=float(rng.uniform(0.2, 0.9)) if kind == "window" else 0.0,
            )
            self._on_wall(kind, self.new_instance(), mat, sx, sz, z0, 0.03)
        if rng.random() < 0.7:  # a door, open into the room in half the scenes
            inst, mat = self.new_instance(), self.material()
            side = int(rng.integers(2))
            wall_x = 0.0 if side == 0 else w
            y0 = rng.uniform(self.free_y, max(self.free_y + 0.01, d - 1.0))
            if rng.random() < 0.5:
                self.add(
                    "box",
                    "door",
                    inst,
                    mat,
                    (wall_x + (0.02 if side == 0 else -0.02), y0 + 0.45, 1.02),
                    (0.02, 0.45, 1.02),
                )
            else:
                angle = rng.uniform(0.35, 1.4) * (1 if side == 0 else -1)
                yaw = math.pi / 2 - angle if side == 0 else math.pi / 2 - angle
                cx = wall_x + math.cos(yaw) * 0.45 * (1 if side == 0 else -1)
                cy = y0 + math.sin(yaw) * 0.45
                self.add("box", "door", inst, mat, (cx, cy, 1.02), (0.45, 0.02, 1.02), yaw)

    def _on_wall(self, name, inst, mat, sx, sz, z0, thick) -> None:
        w, d, _ = self.size
        wall = self.rng.integers(3)
        if wall == 2 or d < 3:
            x = self.rng.uniform(sx / 2 + 0.1, max(sx / 2 + 0.11, w - sx / 2 - 0.1))
            self.add("box", name, inst, mat, (x, d - thick / 2, z0 + sz / 2), (sx / 2, thick / 2, sz / 2))
        else:
            y = self.rng.uniform(self.free_y + sx / 2, max(self.free_y + sx / 2 + 0.01, d - sx / 2 - 0.1))
            x = thick / 2 if wall == 0 else w - thick / 2
            self.add("box", name, inst, mat, (x, y, z0 + sz / 2), (thick / 2, sx / 2, sz / 2))

    def rows(self) -> None:
        """Rows of desks and chairs, one behind the other: a class over a wide depth range."""
        rng = self.rng
        w, d, _ = self.size
        cols = max(1, int((w - 0.6) // 1.4))
        y = self.free_y + 0.6
        yaw = math.pi + rng.normal(0, 0.05)
        while y < d - 0.8:
            for k in range(cols):
                x = 0.6 + k * 1.4 + rng.normal(0, 0.05)
                if rng.random() < 0.85:
                    self.table("desk", at=(x, y, yaw + rng.normal(0, 0.03)), clutter=rng.random() < 0.4)
                if rng.random() < 0.85:
                    self.chair(at=(x + rng.normal(0, 0.05), y - 0.6, math.pi + yaw + rng.normal(0, 0.25)))
            y += rng.uniform(1.2, 1.6)


def make_hard_scene(index: int, seed: int, scene_type: str | None = None) -> HardScene:
    """A random room of the hard world, deterministic in (seed, index)."""
    rng = np.random.default_rng([seed, index, 131])
    scene_type = scene_type or HARD_SCENE_TYPES[int(rng.integers(len(HARD_SCENE_TYPES)))]
    if scene_type == "corridor":
        size = (rng.uniform(1.6, 2.6), rng.uniform(6.0, 10.0), rng.uniform(2.4, 3.0))
    else:
        # Log-uniform depth: many small rooms, some large ones, as in NYU's homes and offices.
        size = (
            rng.uniform(2.4, 6.0),
            float(math.exp(rng.uniform(math.log(3.0), math.log(10.0)))),
            rng.uniform(2.4, 3.2),
        )
    b = _SceneBuilder(rng, size)
    room = [b.material(glossy=0.02, surface=True) for _ in range(2)]
    walls = [room[0]] * 4 if rng.random() < 0.7 else [room[int(rng.integers(2))] for _ in range(4)]
    room_materials = (*walls, b.material(glossy=0.1, surface=True), b.material(surface=True))
    b.wall_things()
    if scene_type == "bedroom":
        b.bed()
        for _ in range(int(rng.integers(1, 3))):
            b.cabinet()
        b.chair()
    elif scene_type == "living_room":
        b.sofa()
        b.table(clutter=True)
        b.cabinet()
        for _ in range(int(rng.integers(0, 3))):
            b.chair()
    elif scene_type == "office":
        for _ in range(int(rng.integers(1, 3))):
            b.table("desk")
            b.chair()
        b.bookshelf()
        b.cabinet()
    elif scene_type == "classroom":
        b.rows()
    elif scene_type == "corridor":
        for _ in range(int(rng.integers(0, 3))):
            b.cabinet()
    elif scene_type == "dining_room":
        b.table(clutter=True)
        for _ in range(int(rng.integers(2, 6))):
            b.chair()
        b.cabinet()
    else:  # library
        for _ in range(int(rng.integers(2, 4))):
            b.bookshelf()
        b.table("desk")
        b.chair()
    for _ in range(int(rng.integers(0, 3))):  # rooms are fuller than their type says
        (b.cabinet if rng.random() < 0.6 else b.chair)()
    b.floor_things()
    if rng.random() < 0.5:
        b.lamp()
    lights = []
    for _ in range(int(rng.integers(2, 5))):
        pos = (rng.uniform(0.2, size[0] - 0.2), rng.uniform(0.2, size[1] - 0.2), rng.uniform(1.5, size[2] - 0.05))
        tint = np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.65, 1.0)])
        if rng.random() < 0.3:
            tint = tint[::-1]  # a cool light now and then
        lights.append((tuple(map(float, pos)), tuple(map(float, tint * rng.uniform(0.5, 2.0)))))
    return HardScene(
        f"{scene_type}_h{index:04d}",
        scene_type,
        tuple(map(float, size)),
        tuple(b.solids),
        tuple(b.materials),
        room_materials,
        tuple(lights),
        seed,
    )


# ---------------------------------------------------------------------------------------- rendering


def _camera(rng: np.random.Generator, scene: HardScene):
    """A handheld Kinect in the free front part of the room."""
    w, d, _ = scene.size
    origin = np.array([rng.uniform(0.35, w - 0.35), rng.uniform(0.2, min(1.1, 0.4 * d)), rng.uniform(0.9, 1.8)])
    # People point the camera into the room: a yaw whose line of sight runs at least
    # min(2 m, 60 % of the room's depth) before it meets a wall (the last try is kept regardless).
    for _ in range(10):
        yaw = math.radians(rng.uniform(-50, 50))
        sx, sy = math.sin(yaw), math.cos(yaw)
        reach = min(
            (w - origin[0]) / sx if sx > 1e-6 else np.inf,
            -origin[0] / sx if sx < -1e-6 else np.inf,
            (d - origin[1]) / sy,
        )
        if reach >= min(2.0, 0.6 * (d - origin[1])):
            break
    pitch = math.radians(float(np.clip(rng.normal(-12, 9), -35, 8)))
    roll = math.radians(rng.normal(0, 4.0))
    forward = np.array([math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = -np.cross(right, forward)
    right, down = math.cos(roll) * right + math.sin(roll) * down, -math.sin(roll) * right + math.cos(roll) * down
    return origin, right, down, forward


def _corners(solid: Solid) -> np.ndarray:
    """The 8 corners of a box around the solid (world coordinates)."""
    if solid.kind == "box":
        c, s = math.cos(solid.yaw), math.sin(solid.yaw)
        hx, hy, hz = solid.size
        out = []
        for sx in (-1, 1):
            for sy in (-1, 1):
                for sz in (-1, 1):
                    lx, ly = sx * hx, sy * hy
                    out.append(
                        (
                            solid.center[0] + lx * c - ly * s,
                            solid.center[1] + lx * s + ly * c,
                            solid.center[2] + sz * hz,
                        )
                    )
        return np.array(out)
    r = solid.size[0]
    z0, z1 = (
        (solid.center[2], solid.center[2] + solid.size[2])
        if solid.kind == "cylinder"
        else (solid.center[2] - r, solid.center[2] + r)
    )
    return np.array(
        [(solid.center[0] + sx * r, solid.center[1] + sy * r, z) for sx in (-1, 1) for sy in (-1, 1) for z in (z0, z1)]
    )


def _window(solid, origin, right, down, forward, intr, shape):
    """The image rows/columns the solid can cover (its corners projected), or None if behind the camera."""
    rel = _corners(solid) - origin
    zc = rel @ forward
    if np.all(zc <= 0.0):
        return None
    h, w = shape
    if np.any(zc < 0.05):
        return slice(0, h), slice(0, w)
    fx, fy, cx, cy = intr
    u = fx * (rel @ right) / zc + cx
    v = fy * (rel @ down) / zc + cy
    u0, u1 = max(0, int(math.floor(u.min())) - 1), min(w, int(math.ceil(u.max())) + 2)
    v0, v1 = max(0, int(math.floor(v.min())) - 1), min(h, int(math.ceil(v.max())) + 2)
    if u0 >= u1 or v0 >= v1:
        return None
    return slice(v0, v1), slice(u0, u1)


def _hit_box(o, d, solid):
    """Ray parameter and normal (3 planes) of a yawed box, inf where missed."""
    c, s = math.cos(solid.yaw), math.sin(solid.yaw)
    axes = ((c, s, 0.0), (-s, c, 0.0), (0.0, 0.0, 1.0))
    rel = [o[i] - solid.center[i] for i in range(3)]
    t_in = t_out = None
    near_axis = None
    for k, ax in enumerate(axes):
        ol = rel[0] * ax[0] + rel[1] * ax[1] + rel[2] * ax[2]
        dl = d[0] * ax[0] + d[1] * ax[1] + d[2] * ax[2]
        dl = np.where(np.abs(dl) < 1e-9, 1e-9, dl)
        t1, t2 = (-solid.size[k] - ol) / dl, (solid.size[k] - ol) / dl
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        if t_in is None:
            t_in, t_out, near_axis, sign = lo, hi, np.zeros(lo.shape, np.int8), -np.sign(dl)
        else:
            later = lo > t_in
            near_axis = np.where(later, k, near_axis)
            sign = np.where(later, -np.sign(dl), sign)
            t_in, t_out = np.maximum(t_in, lo), np.minimum(t_out, hi)
    t = np.where((t_out >= t_in) & (t_in > 1e-3), t_in, np.inf)
    normal = [sum(np.where(near_axis == k, sign * axes[k][i], 0.0) for k in range(3)) for i in range(3)]
    return t, normal


def _hit_cylinder(o, d, solid):
    """A vertical cylinder: its side and its two caps."""
    cx, cy, z0 = solid.center
    r, _, height = solid.size
    px, py = o[0] - cx, o[1] - cy
    a = d[0] ** 2 + d[1] ** 2
    b = 2 * (px * d[0] + py * d[1])
    c = px * px + py * py - r * r
    disc = b * b - 4 * a * c
    root = np.sqrt(np.maximum(disc, 0))
    t_side = (-b - root) / np.maximum(2 * a, 1e-12)
    z = o[2] + t_side * d[2]
    t_side = np.where((disc >= 0) & (t_side > 1e-3) & (z >= z0) & (z <= z0 + height), t_side, np.inf)
    at = np.where(np.isfinite(t_side), t_side, 0.0)  # missed rays: any finite value, never used
    best, normal = t_side, [(px + at * d[0]) / r, (py + at * d[1]) / r, np.zeros_like(t_side)]
    for zc, nz in ((z0 + height, 1.0), (z0, -1.0)):
        dz = np.where(np.abs(d[2]) < 1e-9, 1e-9, d[2])
        t_cap = (zc - o[2]) / dz
        inside = (px + t_cap * d[0]) ** 2 + (py + t_cap * d[1]) ** 2 <= r * r
        t_cap = np.where(inside & (t_cap > 1e-3), t_cap, np.inf)
        take = t_cap < best
        best = np.where(take, t_cap, best)
        normal = [np.where(take, 0.0, normal[0]), np.where(take, 0.0, normal[1]), np.where(take, nz, normal[2])]
    return best, normal


def _hit_sphere(o, d, solid):
    r = solid.size[0]
    p = [o[i] - solid.center[i] for i in range(3)]
    a = d[0] ** 2 + d[1] ** 2 + d[2] ** 2
    b = 2 * (p[0] * d[0] + p[1] * d[1] + p[2] * d[2])
    c = p[0] ** 2 + p[1] ** 2 + p[2] ** 2 - r * r
    disc = b * b - 4 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    t = np.where((disc >= 0) & (t > 1e-3), t, np.inf)
    at = np.where(np.isfinite(t), t, 0.0)
    return t, [(p[i] + at * d[i]) / r for i in range(3)]


_HIT = {"box": _hit_box, "cylinder": _hit_cylinder, "sphere": _hit_sphere}


def render_hard(scene: HardScene, pose: int, height: int = 480, width: int = 640) -> RenderedFrame:
    """Ray-cast one frame of ``scene`` from camera pose number ``pose``."""
    rng = np.random.default_rng([scene.seed, zlib.crc32(scene.name.encode()), pose, 17])
    origin, right, down, forward = _camera(rng, scene)
    intr = intrinsics_for(height, width)
    fx, fy, cx, cy = intr
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    xc, yc = (u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy
    d = [(xc * right[a] + yc * down[a] + forward[a]).astype(np.float32) for a in range(3)]  # camera-z = 1
    d = [np.where(np.abs(c) < 1e-7, np.float32(1e-7), c) for c in d]

    # The room: the nearest of the six planes ahead. Surfaces: 0 left, 1 right, 2 back, 3 far, 4 floor, 5 ceiling.
    exits = [np.where(d[a] > 0, (scene.size[a] - origin[a]) / d[a], -origin[a] / d[a]) for a in range(3)]
    t = np.minimum(np.minimum(exits[0], exits[1]), exits[2])
    axis = np.where(t == exits[0], 0, np.where(t == exits[1], 1, 2))
    surface = np.where(
        axis == 0, np.where(d[0] > 0, 1, 0), np.where(axis == 1, np.where(d[1] > 0, 3, 2), np.where(d[2] < 0, 4, 5))
    )
    normal = [np.where(axis == a, -np.sign(d[a]), 0).astype(np.float32) for a in range(3)]
    material = np.asarray(scene.room_materials)[surface].astype(np.int16)
    names = ["wall", "floor", "ceiling"]
    class_index = np.where(surface == 4, 1, np.where(surface == 5, 2, 0)).astype(np.int16)
    instance = np.zeros(t.shape, np.uint8)

    name_index = {n: i for i, n in enumerate(names)}
    for solid in scene.solids:
        win = _window(solid, origin, right, down, forward, intr, t.shape)
        if win is None:
            continue
        t_hit, n_hit = _HIT[solid.kind](origin, [c[win] for c in d], solid)
        closer = t_hit < t[win]
        if not closer.any():
            continue
        if solid.name not in name_index:
            name_index[solid.name] = len(names)
            names.append(solid.name)
        t[win] = np.where(closer, t_hit, t[win])
        for a in range(3):
            normal[a][win] = np.where(closer, n_hit[a], normal[a][win])
        material[win][closer] = solid.material
        class_index[win][closer] = name_index[solid.name]
        instance[win][closer] = solid.instance

    point = [origin[a] + t * d[a] for a in range(3)]
    norm = np.sqrt(sum(n * n for n in normal)) + 1e-9
    normal = [n / norm for n in normal]
    facing = -(normal[0] * d[0] + normal[1] * d[1] + normal[2] * d[2]) / np.sqrt(sum(c * c for c in d))
    flip = facing < 0  # a normal pointing away from the camera (inside a cylinder's cap): turn it round
    normal = [np.where(flip, -n, n) for n in normal]
    facing = np.abs(facing)

    image, albedo, glossy = _shade(scene, material, point, normal, rng)
    depth = np.clip(t, 0.3, MAX_DEPTH).astype(np.float32)
    raw = kinect_raw_depth(depth, facing, albedo, glossy, rng, fx)
    filled = inpaint_depth(raw, fallback=depth)
    labels = (class_index + 1).astype(np.uint16)
    # NYU's annotators draw polygons that stop short of object outlines: a thin band along the
    # edges between objects is left unlabelled (about half of NYU's 15 % unlabelled pixels).
    outline = (instance.astype(np.int32) * 64 + class_index).astype(np.float32)
    edge = cv2.morphologyEx(outline, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    labels[edge] = 0
    return RenderedFrame(image, filled, raw, labels, tuple(names), instance)


def _texture(mat: Material, p: list[np.ndarray]) -> np.ndarray:
    """A procedural pattern in [0, 1] at world points ``p`` (mixing the material's two colours)."""
    proj = p[0] * mat.direction[0] + p[1] * mat.direction[1] + p[2] * mat.direction[2]
    f = mat.frequency
    if mat.texture == "plain":
        return np.zeros_like(proj)
    if mat.texture == "stripes":
        return (np.sin(2 * math.pi * f * proj) > 0.3).astype(np.float32)
    if mat.texture == "checks":
        return ((np.floor(p[0] * f / 2) + np.floor(p[1] * f / 2) + np.floor(p[2] * f / 2)) % 2).astype(np.float32)
    if mat.texture == "noise":
        n = np.sin(f * proj * 2.1 + 1.3) * np.sin(f * (p[0] - p[2]) * 1.7) + np.sin(f * (p[1] + p[2]) * 2.9)
        return np.clip(0.5 + 0.3 * n, 0, 1)
    return 0.5 + 0.5 * np.sin(2 * math.pi * f * proj + 3 * np.sin(0.7 * f * (p[0] + p[1] + p[2])))  # grain


def _shade(scene: HardScene, material, point, normal, rng):
    """Lambert shading from several coloured point lights, emissive parts, auto-exposure, sensor noise."""
    shape = material.shape
    albedo = np.zeros((*shape, 3), np.float32)
    emissive = np.zeros(shape, np.float32)
    glossy = np.zeros(shape, bool)
    for m in np.unique(material):
        mat = scene.materials[int(m)]
        mask = material == m
        tex = _texture(mat, [p[mask] for p in point])[:, None]
        albedo[mask] = (1 - tex) * np.asarray(mat.colors[0]) + tex * np.asarray(mat.colors[1])
        emissive[mask] = mat.emissive
        glossy[mask] = mat.glossy
    light = np.full((*shape, 3), 0.0, np.float32)
    for pos, color in scene.lights:
        to = [pos[a] - point[a] for a in range(3)]
        dist2 = to[0] ** 2 + to[1] ** 2 + to[2] ** 2 + 1e-6
        lambert = np.clip((normal[0] * to[0] + normal[1] * to[1] + normal[2] * to[2]) / np.sqrt(dist2), 0, 1)
        light += (lambert / (0.2 + 0.4 * dist2))[..., None] * np.asarray(color, np.float32)
    ambient = rng.uniform(0.05, 0.25)
    radiance = albedo * (ambient + light) + emissive[..., None]
    # Auto-exposure: the camera sets the frame's brightness, not the distance to the lights.
    luminance = radiance @ np.array([0.3, 0.59, 0.11], np.float32)
    radiance *= rng.uniform(0.35, 0.55) / max(float(np.percentile(luminance, 60)), 1e-3)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    vignette = 1 - 0.25 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2
    radiance = radiance * vignette[..., None].astype(np.float32) + rng.normal(0, 0.01, radiance.shape)
    image = (np.clip(radiance, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)
    return image, albedo, glossy


def kinect_raw_depth(
    depth: np.ndarray,
    facing: np.ndarray,
    albedo: np.ndarray,
    glossy: np.ndarray,
    rng: np.random.Generator,
    fx: float,
) -> np.ndarray:
    """A Kinect v1-like reading of ``depth`` (metres), 0 where the sensor gets nothing.

    Disparity d = fx * baseline / z, quantised to 1/8 pixel with a little jitter; holes in
    the projector's shadow (a nearer surface within the disparity difference to the right),
    on dark surfaces (blobs), on glossy ones, at grazing angles (|cos| < 0.2), before 0.5 m
    and, increasingly, beyond ``KINECT_MAX_RANGE``; a few scattered dropouts; and NYU's
    registration border.
    """
    h, w = depth.shape
    disparity = fx * KINECT_BASELINE / depth
    quantised = np.round((disparity + rng.normal(0, 0.04, depth.shape)) / DISPARITY_STEP) * DISPARITY_STEP
    raw = (fx * KINECT_BASELINE / np.maximum(quantised, DISPARITY_STEP)).astype(np.float32)
    hole = np.zeros(depth.shape, bool)
    # Shadow: the projector sits to the right; a nearer surface k pixels to the right hides the
    # projector from this pixel when its disparity exceeds ours by more than k.
    reach = int(min(48, math.ceil(disparity.max() - disparity.min())))
    for k in range(1, reach + 1):
        hole[:, : w - k] |= disparity[:, k:] - disparity[:, : w - k] > k
    # Smooth random fields make holes blobs, not salt noise.
    blob = cv2.resize(rng.random((h // 16, w // 16)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    luminance = albedo @ np.array([0.3, 0.59, 0.11], np.float32)
    hole |= (luminance < 0.1) & (blob < 0.8)
    hole |= glossy & (blob < 0.85)
    hole |= facing < 0.2
    hole |= depth < 0.5
    hole |= (depth > KINECT_MAX_RANGE) | ((depth > KINECT_MAX_RANGE - 2) & (blob < (depth - KINECT_MAX_RANGE + 2) / 2))
    hole |= rng.random(depth.shape) < 0.002
    # The depth camera sees less than the colour camera: NYU's registered frames have no
    # reading in a border (measured on the real frames of ../shared/data/real_rgbd).
    top, bottom, left, right = (round(b * s) for b, s in zip(REGISTRATION_BORDER, (h / 480, h / 480, w / 640, w / 640)))
    hole[:top], hole[h - bottom :], hole[:, :left], hole[:, w - right :] = True, True, True, True
    raw[hole] = 0.0
    return raw


def inpaint_depth(raw: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Fill the holes of a raw depth map from their surroundings (NYU in-paints its labelled frames).

    OpenCV's Navier-Stokes in-painting on the map at half resolution, then the filled values
    are taken only where the reading is missing. A frame with no reading at all takes ``fallback``.
    """
    hole = raw <= 0
    if not hole.any():
        return raw.copy()
    if hole.all():
        return (fallback if fallback is not None else raw).astype(np.float32)
    h, w = raw.shape
    small = cv2.resize(raw, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    small_hole = (small <= 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_NS)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.where(hole, filled, raw).astype(np.float32)
    return np.clip(out, 0.3, MAX_DEPTH) if fallback is not None else out
