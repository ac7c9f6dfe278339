"""The hard world's camera and renderer: one frame of a ``HardScene`` from one camera pose.

Ray casting (``raycast``) gives depth, normals, class and instance per pixel; shading
(``hard_shading``) the photo; the shared Kinect model (``kinect``, preset ``HARD``) the raw
reading, which is in-painted (``inpaint``) into the depth NYU's labelled frames hold.
"""

from __future__ import annotations

import math
import zlib

import cv2
import numpy as np

from tfds_nyu.kinect_camera import intrinsics_for
from tfds_nyu.synthetic import kinect
from tfds_nyu.synthetic.frame import MAX_DEPTH, RenderedFrame
from tfds_nyu.synthetic.hard_scene import HardScene
from tfds_nyu.synthetic.hard_shading import shade
from tfds_nyu.synthetic.inpaint import inpaint_depth
from tfds_nyu.synthetic.raycast import HIT, window

__all__ = ["render_hard"]


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
        win = window(solid, origin, right, down, forward, intr, t.shape)
        if win is None:
            continue
        t_hit, n_hit = HIT[solid.kind](origin, [c[win] for c in d], solid)
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

    image, albedo, glossy = shade(scene, material, point, normal, rng)
    depth = np.clip(t, 0.3, MAX_DEPTH).astype(np.float32)
    raw = kinect.raw_depth(depth, rng, kinect.HARD, fx=fx, facing=facing, albedo=albedo, glossy=glossy)
    filled = inpaint_depth(raw, fallback=depth)
    labels = (class_index + 1).astype(np.uint16)
    # NYU's annotators draw polygons that stop short of object outlines: a thin band along the
    # edges between objects is left unlabelled (about half of NYU's 15 % unlabelled pixels).
    outline = (instance.astype(np.int32) * 64 + class_index).astype(np.float32)
    edge = cv2.morphologyEx(outline, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    labels[edge] = 0
    return RenderedFrame(image, filled, raw, labels, tuple(names), instance)
