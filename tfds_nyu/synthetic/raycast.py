"""Ray casting against the hard world's solids: yawed boxes, vertical cylinders and spheres.

Each ``hit_*`` takes the camera origin, per-pixel ray directions (three (H, W) planes with
unit camera-z component) and a solid, and returns the ray parameter (inf where missed) and
the surface normal. ``window`` bounds the pixels a solid can cover, so that each solid is
intersected only there.
"""

from __future__ import annotations

import math

import numpy as np

from tfds_nyu.synthetic.hard_scene import Solid

__all__ = ["HIT", "hit_box", "hit_cylinder", "hit_sphere", "window"]


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


def window(solid, origin, right, down, forward, intr, shape):
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


def hit_box(o, d, solid):
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


def hit_cylinder(o, d, solid):
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


def hit_sphere(o, d, solid):
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


HIT = {"box": hit_box, "cylinder": hit_cylinder, "sphere": hit_sphere}
