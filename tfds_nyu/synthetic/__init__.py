"""Synthetic indoor scenes written in NYU Depth's exact file layout: two worlds, one Kinect model.

The real NYU files cannot be downloaded on our machines, so this package renders indoor
rooms and writes them as ``nyu_depth_v2_labeled.mat`` and ``nyu_depth_data_labeled.mat``
(MATLAB v7.3 / HDF5: the same keys, transposed shapes, dtypes, ``MATLAB_class`` attributes
and cell strings referencing ``#refs#``), plus a MATLAB v5 ``splits.mat``; the dataset
builder then reads them like the real files. Everything is deterministic in
(seed, scene, pose).

* **simple** (the demo's): axis-aligned furniture, each class shaded in its own colour, far
  things dimmed by haze, so the photo carries both the semantic map and the depth.
* **hard**: appearance that says neither the class nor the distance (one palette for all
  classes, procedural textures, 2-4 coloured lights, auto-exposure, no haze); rotated
  furniture made of parts, clutter, corridors; a handheld camera (height 0.9-1.8 m, pitch
  -35 to +8 degrees, roll, yaw +-50 degrees); depth like NYU's labelled set: a Kinect-like
  raw reading, in-painted.

Modules, one job each (imports run downwards only: no cycles):

    frame        RenderedFrame (what a world renders for one frame) and MAX_DEPTH
    kinect       the Kinect v1 model both worlds read raw depth through, with a preset per world
    inpaint      fill a raw depth map's holes (NYU in-paints its labelled frames)
    simple       the simple world: scenes, ray casting against boxes, shading
    hard_scene   the hard world's scenes: rooms, furniture of parts, clutter, materials, lights
    raycast      ray intersections with the hard world's boxes, cylinders and spheres
    hard_shading the hard world's textures and lighting
    hard         the hard world's camera and renderer (raycast, shading, Kinect, in-painting)
    worlds       the worlds by name: scene maker, renderer, class tables
    files        render a world's frames and write them as NYU's .mat files (``generate``)

    rsn-synthesize OUT_DIR --v2_frames=120 --v1_frames=120 [--world=hard]
"""

from tfds_nyu.synthetic.files import generate
from tfds_nyu.synthetic.frame import MAX_DEPTH, RenderedFrame
from tfds_nyu.synthetic.hard import render_hard
from tfds_nyu.synthetic.hard_scene import HARD_V1_NAMES, HARD_V2_NAMES, HardScene, Solid, make_hard_scene
from tfds_nyu.synthetic.inpaint import inpaint_depth
from tfds_nyu.synthetic.kinect import KinectModel, raw_depth
from tfds_nyu.synthetic.simple import V1_NAMES, V2_NAMES, Box, Scene, make_scene, render
from tfds_nyu.synthetic.worlds import WORLDS, World, world

__all__ = [
    "HARD_V1_NAMES",
    "HARD_V2_NAMES",
    "MAX_DEPTH",
    "V1_NAMES",
    "V2_NAMES",
    "WORLDS",
    "Box",
    "HardScene",
    "KinectModel",
    "RenderedFrame",
    "Scene",
    "Solid",
    "World",
    "generate",
    "inpaint_depth",
    "make_hard_scene",
    "make_scene",
    "raw_depth",
    "render",
    "render_hard",
    "world",
]

# bench/world_statistics.py still calls the old private name; world() is the public one.
_world = world
