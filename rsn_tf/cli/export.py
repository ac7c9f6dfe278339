"""rsn-export: a trained Region Support Network as a versioned SavedModel for TF Serving.

    rsn-export --model_dir=runs/rsn --export_base=export --model_name=rsn [--version=N]
    rsn-export --keras_model=rsn.keras --export_base=export

    rsn-export --model_dir=runs/rsn --format=tflite            # also LiteRT float32/float16/int8

Writes <export_base>/<model_name>/<version>/ atomically (version: next integer by
default), with the signatures serving_default (uint8 images, any size) and
predict_image_bytes (JPEG/PNG bytes), TF Serving warm-up requests, its serving bundle
(serving_info.json and model_card.md: tensors, units, limits, metrics, the docker command,
and for a run fine-tuned with rsn-train --init_from the parent it started from) and
<export_base>/models.config. See the README's "Deploying" section.

--format=tflite also writes <export_base>/<model_name>_litert/<version>/ with one LiteRT model
per --litert_variants at a fixed size (--litert_size, default the network's own resolution;
rsn_tf/serving/litert.py), from the same model; --format=onnx writes
<export_base>/<model_name>_onnx/<version>/<model_name>_<H>x<W>.onnx (tf2onnx, opset 17).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_string(
    "model_dir", None, "A rsn-train --model_dir; its most finished stage is exported.", flag_values=FLAGS
)
flags.DEFINE_string(
    "stage", None, "Export this stage of --model_dir instead of the most finished one.", flag_values=FLAGS
)
flags.DEFINE_string("keras_model", None, "A .keras file holding a RegionSupportNetwork.", flag_values=FLAGS)
flags.DEFINE_string(
    "export_base",
    "export",
    "Base directory; the model goes to <export_base>/<model_name>/<version>/.",
    flag_values=FLAGS,
)
flags.DEFINE_string("model_name", "rsn", "TF Serving model name.", flag_values=FLAGS)
flags.DEFINE_integer("version", None, "Version number (default: one more than the highest present).", flag_values=FLAGS)
flags.DEFINE_boolean("overwrite", False, "Replace an existing version.", flag_values=FLAGS)
flags.DEFINE_integer(
    "max_side", 4096, "Reject images whose height or width exceeds this (InvalidArgument).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "max_batch", 16, "Reject requests with more images than this (InvalidArgument).", flag_values=FLAGS
)
flags.DEFINE_boolean(
    "include_iterations", False, "Also output every refinement iteration (depth_iteration_k).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "max_bytes", 20 * 1024 * 1024, "Reject encoded images larger than this (InvalidArgument).", flag_values=FLAGS
)
flags.DEFINE_list("format", [], "Also write these formats beside the SavedModel: tflite (LiteRT).", flag_values=FLAGS)
flags.DEFINE_list("litert_variants", ["float32", "float16", "int8"], "LiteRT variants to write.", flag_values=FLAGS)
flags.DEFINE_string(
    "litert_size", None, "LiteRT and ONNX input size HxW (default: the network's own).", flag_values=FLAGS
)
flags.DEFINE_boolean(
    "include_confidence",
    False,
    "Also output a per-pixel confidence map in (0, 1] (rsn_tf/confidence.py).",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "confidence_signals",
    "flip",
    ["flip", "iterations", "both"],
    "What the confidence map is made from (flip costs a second, mirrored pass).",
    flag_values=FLAGS,
)


def _export(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}; every option is a --flag")
    unknown = [f for f in FLAGS.format if f not in ("tflite", "onnx", "savedmodel")]
    if unknown:
        raise common.CliError(
            f"--format={','.join(FLAGS.format)}: unknown {unknown}; the SavedModel is always written, "
            "tflite adds LiteRT models and onnx an ONNX model"
        )
    from rsn_tf.serving.litert import LITERT_VARIANTS

    bad = [v for v in FLAGS.litert_variants if v not in LITERT_VARIANTS]
    if bad:
        raise common.CliError(f"--litert_variants: unknown {bad}; expected some of {', '.join(LITERT_VARIANTS)}")
    size = None
    if FLAGS.litert_size:
        try:
            size = tuple(int(v) for v in FLAGS.litert_size.lower().split("x"))
            assert len(size) == 2 and min(size) >= 8
        except (ValueError, AssertionError):
            raise common.CliError(f"--litert_size={FLAGS.litert_size}: expected HxW, e.g. 240x320") from None
    from rsn_tf.model_loading import load_model
    from rsn_tf.serving.bundle import run_provenance
    from rsn_tf.serving.exporter import export_saved_model
    from rsn_tf.serving.signatures import ServingLimits

    model = load_model(FLAGS.model_dir, FLAGS.keras_model, FLAGS.stage)
    path = export_saved_model(
        model,
        FLAGS.export_base,
        FLAGS.model_name,
        FLAGS.version,
        FLAGS.overwrite,
        ServingLimits(FLAGS.max_side, FLAGS.max_batch, FLAGS.max_bytes),
        FLAGS.include_iterations,
        FLAGS.include_confidence,
        FLAGS.confidence_signals,
        run_provenance(FLAGS.model_dir, FLAGS.stage),
    )
    print(f"SavedModel written to {path}")
    print(f"Serving bundle: {os.path.join(path, 'serving_info.json')}, {os.path.join(path, 'model_card.md')}")
    if "tflite" in FLAGS.format:
        from rsn_tf.serving.litert import export_litert

        version = int(os.path.basename(path))
        litert = export_litert(model, FLAGS.export_base, FLAGS.model_name, version, tuple(FLAGS.litert_variants), size)
        for variant in FLAGS.litert_variants:
            print(f"LiteRT {variant}: {litert[variant]}")
    if "onnx" in FLAGS.format:
        from rsn_tf.serving.onnx_export import export_onnx

        print(f"ONNX: {export_onnx(model, FLAGS.export_base, FLAGS.model_name, int(os.path.basename(path)), size)}")
    print(f"TF Serving config: {os.path.join(FLAGS.export_base, 'models.config')}")
    print(f"Inspect it with: saved_model_cli show --dir {path} --all")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # ExportError and ModelLoadError are ValueErrors naming the flag; a missing file is a FileNotFoundError.
    return common.run(_export, FLAGS, __doc__, argv, program="rsn-export", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
