"""Export a trained Region Support Network as a versioned SavedModel for TF Serving.

    python export.py --model_dir=runs/rsn --export_base=export --model_name=rsn [--version=N]
    python export.py --keras_model=rsn.keras --export_base=export

Writes <export_base>/<model_name>/<version>/ atomically (version: next integer by
default), with the signatures serving_default (uint8 images, any size) and
predict_image_bytes (JPEG/PNG bytes), TF Serving warm-up requests, and
<export_base>/models.config. See the README's "Serving" section.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A train.py --model_dir; the most finished stage is exported.")
flags.DEFINE_string("stage", None, "Export this stage of --model_dir instead of the most finished one.")
flags.DEFINE_string("keras_model", None, "A .keras file holding a RegionSupportNetwork.")
flags.DEFINE_string("export_base", "export", "Base directory; the model goes to <export_base>/<model_name>/<version>/.")
flags.DEFINE_string("model_name", "rsn", "TF Serving model name.")
flags.DEFINE_integer("version", None, "Version number (default: one more than the highest present).")
flags.DEFINE_boolean("overwrite", False, "Replace an existing version.")
flags.DEFINE_integer("max_side", 4096, "Reject images whose height or width exceeds this (InvalidArgument).")
flags.DEFINE_integer("max_batch", 16, "Reject requests with more images than this (InvalidArgument).")
flags.DEFINE_boolean("include_iterations", False, "Also output every refinement iteration (depth_iteration_k).")


def main(argv) -> int:
    del argv
    from rsn_tf.serving.exporter import ExportError, export_saved_model, load_model
    from rsn_tf.serving.signatures import ServingLimits

    try:
        model = load_model(FLAGS.model_dir, FLAGS.keras_model, FLAGS.stage)
        path = export_saved_model(
            model, FLAGS.export_base, FLAGS.model_name, FLAGS.version, FLAGS.overwrite,
            ServingLimits(FLAGS.max_side, FLAGS.max_batch), FLAGS.include_iterations,
        )
    except (ExportError, FileNotFoundError) as error:
        print(f"export.py: {error}", file=sys.stderr)
        return 2
    print(f"SavedModel written to {path}")
    print(f"TF Serving config: {os.path.join(FLAGS.export_base, 'models.config')}")
    print(f"Inspect it with: saved_model_cli show --dir {path} --all")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
