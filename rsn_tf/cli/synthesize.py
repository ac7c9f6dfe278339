"""rsn-synthesize: write synthetic indoor scenes in NYU Depth's exact .mat layout.

    rsn-synthesize OUT_DIR --v2_frames=120 --v1_frames=120 [--size=480x640] [--seed=0] [--world=hard]

Writes nyu_depth_v2_labeled.mat, nyu_depth_data_labeled.mat and splits.mat into
OUT_DIR; a TFDS build with --manual_dir=OUT_DIR then reads them exactly like the real
files (tfds_nyu/synthetic/simple.py and hard.py say how the scenes of each world are made).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_integer("v2_frames", 120, "Frames in the v2-format file.", flag_values=FLAGS)
flags.DEFINE_integer("v1_frames", 120, "Frames in the v1-format file.", flag_values=FLAGS)
flags.DEFINE_string("size", "480x640", "Frame size HxW (the builder reads 480x640).", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seed: the files depend on it alone.", flag_values=FLAGS)
flags.DEFINE_enum(
    "world",
    "simple",
    ["simple", "hard"],
    "simple: the demo's rooms (tfds_nyu/synthetic/simple.py); hard: appearance independent of class and distance, "
    "clutter, Kinect-like raw depth (tfds_nyu/synthetic/hard.py).",
    flag_values=FLAGS,
)
flags.DEFINE_integer("workers", None, "Rendering threads (default: one per core, at most 4).", flag_values=FLAGS)


def _synthesize(positionals: list[str]) -> int:
    if len(positionals) != 1:
        raise common.CliError("give one OUT_DIR")
    try:
        size = tuple(int(v) for v in FLAGS.size.lower().split("x"))
        if len(size) != 2 or min(size) < 2:
            raise ValueError
    except ValueError:
        raise common.CliError(f"--size={FLAGS.size!r}: expected HxW, e.g. 480x640") from None
    if FLAGS.v2_frames < 0 or FLAGS.v1_frames < 0 or FLAGS.v2_frames + FLAGS.v1_frames == 0:
        raise common.CliError("--v2_frames and --v1_frames must be >= 0, and not both 0")
    from tfds_nyu import synthetic

    start = time.perf_counter()
    paths = synthetic.generate(
        positionals[0],
        FLAGS.v2_frames,
        FLAGS.v1_frames,
        size,
        FLAGS.seed,
        progress=True,
        workers=FLAGS.workers,
        world=FLAGS.world,
    )
    print(f"wrote {FLAGS.v2_frames + FLAGS.v1_frames} frames in {time.perf_counter() - start:.1f} s:")
    for path in paths.values():
        print(f"  {path}  ({path.stat().length / 1e6:.1f} MB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return common.run(_synthesize, FLAGS, __doc__, argv, program="rsn-synthesize", errors=(OSError,))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
