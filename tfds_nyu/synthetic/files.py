"""A world's frames written as NYU's files: ``nyu_depth_v2_labeled.mat``, ``nyu_depth_data_labeled.mat``
and ``splits.mat`` (MATLAB v7.3 / HDF5 and v5, through ``tfds_nyu.nyu_mat``'s writers), so that the
dataset builder reads them through exactly the code path used for the real files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from etils import epath

from tfds_nyu.limits import NYU_SIZE
from tfds_nyu.nyu_mat import SPLITS_FILENAME, V1_FILENAME, V2_FILENAME, write_labeled_mat, write_splits_mat
from tfds_nyu.synthetic import worlds
from tfds_nyu.synthetic.frame import RenderedFrame

__all__ = ["generate"]


def _plan(num_frames: int, seed: int, first_scene: int, frames_per_scene: tuple[int, int]) -> list[tuple[int, int]]:
    """(scene index, pose) per frame: scenes with varied frame counts, as in NYU."""
    rng = np.random.default_rng([seed, first_scene, 7])
    plan, scene = [], first_scene
    while len(plan) < num_frames:
        count = int(rng.integers(frames_per_scene[0], frames_per_scene[1] + 1))
        plan += [(scene, pose) for pose in range(count)]
        scene += 1
    return plan[:num_frames]


def _render_task(task: tuple[int, int, int, tuple[int, int], str]) -> tuple[RenderedFrame, str, str]:
    scene_index, pose, seed, size, world = task
    make, draw, _, _ = worlds.world(world)
    scene = make(scene_index, seed)
    return draw(scene, pose, *size), scene.name, scene.scene_type


def _frames(plan, seed, size, workers: int = 1, world: str = "simple") -> Iterator[tuple[RenderedFrame, str, str]]:
    """Rendered frames in plan order. Every frame depends only on (seed, scene, pose), so
    rendering them concurrently gives the same files as rendering them in order.

    Threads, not processes: the renderer's numpy kernels release the GIL (about 2x one thread
    on 2 cores, BENCHMARKS.md), and a thread pool never re-imports the caller's ``__main__``. A spawn-based
    process pool did, so a build started from a script on standard input, or from a script
    without an ``if __name__ == "__main__":`` guard, respawned its workers forever.
    """
    tasks = [(scene_index, pose, seed, tuple(size), world) for scene_index, pose in plan]
    if workers <= 1 or len(tasks) < 8:
        yield from map(_render_task, tasks)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="rsn-render") as pool:
        # A bounded window of frames in flight keeps memory flat however many frames there are
        # (Executor.map would submit them all and hold every finished frame until it is read).
        window = 4 * workers
        pending = deque(pool.submit(_render_task, t) for t in tasks[:window])
        for task in tasks[window:]:
            yield pending.popleft().result()
            pending.append(pool.submit(_render_task, task))
        while pending:
            yield pending.popleft().result()


def generate(
    out_dir: str | epath.PathLike,
    v2_frames: int = 120,
    v1_frames: int = 120,
    size: tuple[int, int] = NYU_SIZE,
    seed: int = 0,
    progress: bool = False,
    workers: int | None = None,
    world: str = "simple",
) -> dict[str, epath.Path]:
    """Write ``nyu_depth_v2_labeled.mat``, ``nyu_depth_data_labeled.mat`` and ``splits.mat``.

    v2 has scenes of 1-10 frames; v1 has fewer, longer scenes of 6-16 frames; a few
    v1 scenes share names (and rooms) with v2 scenes, as in the real data. Returns
    the written paths. Files are written to a temporary name and renamed, so an
    interrupted run never leaves a file that looks complete. Frames are rendered by
    ``workers`` threads (default: one per core, at most 4) and written in order. ``world`` is
    ``simple`` or ``hard`` (``tfds_nyu.synthetic.worlds``).
    """
    _, _, v2_names, v1_names = worlds.world(world)
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    out = epath.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v2_plan = _plan(v2_frames, seed, 0, (1, 10))
    # v1 starts a few scenes before v2's last ones, so some scene names occur in both.
    v1_first = max(0, v2_plan[-1][0] - 1) if v2_plan else 0
    v1_plan = _plan(v1_frames, seed, v1_first, (6, 16))
    paths = {"v2": out / V2_FILENAME, "v1": out / V1_FILENAME, "splits": out / SPLITS_FILENAME}
    bar = _progress(v2_frames + v1_frames, progress)
    for version, plan, names in (("v2", v2_plan, v2_names), ("v1", v1_plan, v1_names)):
        if not plan:
            paths.pop(version)
            continue
        tmp = paths[version].parent / (paths[version].name + ".incomplete")
        write_labeled_mat(tmp, version, bar(_frames(plan, seed, size, workers, world)), len(plan), names, size)
        tmp.rename(paths[version])
    # An 'official' v2 split: whole scenes alternate between train and test (about 55/45 as NYU).
    scene_of = [s for s, _ in v2_plan]
    if scene_of:
        test = [i + 1 for i, s in enumerate(scene_of) if s % 9 in (1, 4, 7, 8)]
        train = [i + 1 for i, s in enumerate(scene_of) if s % 9 not in (1, 4, 7, 8)]
        if not test:  # tiny files: keep both splits non-empty
            test = [train.pop()]
        if not train and len(test) > 1:
            train = [test.pop(0)]
        write_splits_mat(paths["splits"], train, test)
    else:
        paths.pop("splits")
    return paths


def _progress(total: int, enabled: bool):
    if not enabled:
        return lambda it: it
    from tqdm import tqdm

    bar = tqdm(total=total, desc="rendering synthetic NYU frames", unit="frame")

    def wrap(it):
        for item in it:
            yield item
            bar.update(1)

    return wrap
