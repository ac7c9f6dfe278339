"""The hard world's appearance: procedural textures and Lambert shading from coloured lights."""

from __future__ import annotations

import math

import numpy as np

from tfds_nyu.synthetic.hard_scene import HardScene, Material

__all__ = ["shade", "texture"]


def texture(mat: Material, p: list[np.ndarray]) -> np.ndarray:
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


def shade(scene: HardScene, material, point, normal, rng):
    """Lambert shading from several coloured point lights, emissive parts, auto-exposure, sensor noise."""
    shape = material.shape
    albedo = np.zeros((*shape, 3), np.float32)
    emissive = np.zeros(shape, np.float32)
    glossy = np.zeros(shape, bool)
    for m in np.unique(material):
        mat = scene.materials[int(m)]
        mask = material == m
        tex = texture(mat, [p[mask] for p in point])[:, None]
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
