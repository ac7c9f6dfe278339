"""Write ``dummy_data/``: tiny NYU-layout files for the builder's DatasetBuilderTestCase.

    python -m tfds_nyu.nyu_region_support.dummy_data_generation

The frames are full NYU size (480x640: the real configs are fixed to it) but made of
flat blocks, so the gzip-compressed HDF5 files stay a few KB: a wall, a floor that steps
away from the camera, a table, an unlabelled patch with depth, and a sensor hole in
``rawDepths``. v2 has 5 frames in 3 scenes (official split: frames 2 and 5 are test); v1 has
6 frames in 3 scenes, one of them also in v2, so merging by scene and by class name is
exercised. They are written by the project's own writer (``tfds_nyu.nyu_mat``).
"""

from __future__ import annotations

import os

import numpy as np

from tfds_nyu.limits import NYU_SIZE
from tfds_nyu.nyu_mat import SPLITS_FILENAME, V1_FILENAME, V2_FILENAME, write_labeled_mat, write_splits_mat
from tfds_nyu.synthetic import V1_NAMES, V2_NAMES, RenderedFrame

DUMMY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")
HEIGHT, WIDTH = NYU_SIZE  # the real files' size: the builder checks it
FRAME_NAMES = ("wall", "floor", "table")  # the labels a dummy frame uses, 1-based
COLOURS = {1: (200, 190, 170), 2: (120, 80, 50), 3: (150, 100, 60)}

V2_SCENES = ("bedroom_0001", "bedroom_0001", "office_0002", "office_0002", "kitchen_0003")
V1_SCENES = ("office_0002", "office_0002", "study_0004", "study_0004", "study_0004", "dining_0005")
V2_TEST = (2, 5)  # 1-based, as in splits.mat


def dummy_frame(index: int) -> RenderedFrame:
    """One blocky frame; ``index`` varies the depths and the table's place."""
    labels = np.ones((HEIGHT, WIDTH), np.uint16)  # wall
    depth = np.full((HEIGHT, WIDTH), 3.0 + 0.25 * index, np.float32)
    horizon = 300
    labels[horizon:] = 2  # floor: 0.5 m steps towards the camera
    for k, row in enumerate(range(horizon, HEIGHT, 45)):
        depth[row : row + 45] = max(0.75, 2.75 - 0.5 * k)
    left = 100 + 40 * (index % 5)
    labels[260:380, left : left + 200] = 3  # table
    depth[260:380, left : left + 200] = 1.5 + 0.1 * index
    labels[20:80, 500:600] = 0  # unlabelled, but with depth
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for label, colour in COLOURS.items():
        image[labels == label] = colour
    image[labels == 0] = (90, 90, 90)
    raw = depth.copy()
    raw[100:140, 40:120] = 0.0  # a sensor hole
    instances = (labels == 3).astype(np.uint8)
    return RenderedFrame(image, depth, raw, labels, FRAME_NAMES, instances)


def write_dummy_data(out_dir: str = DUMMY_DIR) -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for version, scenes, names, filename, offset in (
        ("v2", V2_SCENES, V2_NAMES, V2_FILENAME, 0),
        ("v1", V1_SCENES, V1_NAMES, V1_FILENAME, 10),
    ):
        frames = ((dummy_frame(offset + i), scene, scene.split("_")[0]) for i, scene in enumerate(scenes))
        path = os.path.join(out_dir, filename)
        write_labeled_mat(path, version, frames, len(scenes), names, (HEIGHT, WIDTH), compression=9)
        paths[version] = path
    train = [i for i in range(1, len(V2_SCENES) + 1) if i not in V2_TEST]
    paths["splits"] = os.path.join(out_dir, SPLITS_FILENAME)
    write_splits_mat(paths["splits"], train, V2_TEST)
    return paths


if __name__ == "__main__":
    for key, path in write_dummy_data().items():
        print(f"{key}: {path} ({os.path.getsize(path)} bytes)")
