"""The hard world's scenes: rooms, furniture made of parts, clutter, materials and lights.

Geometry: rooms 2-10 m deep (corridors included), furniture rotated about the vertical and
made of several parts (tables and chairs have legs), cylinders and spheres (lamps, bins,
pots, plants, cups), clutter of books and boxes on tables and shelves, open doors, rows of
chairs and desks (one class over a wide depth range). Appearance: every object instance
draws two colours from one palette shared by all classes and one procedural texture, so
the colour says nothing of the class. The parameters were set from the statistics of real
NYU frames (``bench/world_statistics.py``, BENCHMARKS.md), not from training outcomes.
Deterministic in (seed, index).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = [
    "HARD_SCENE_TYPES",
    "HARD_V1_NAMES",
    "HARD_V2_NAMES",
    "PALETTE",
    "TEXTURES",
    "HardScene",
    "Material",
    "Solid",
    "make_hard_scene",
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
