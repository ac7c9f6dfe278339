"""rsn-serve-client: send photos to a TF Serving endpoint; write depth PNG, colour PNG and .npy.

    rsn-serve-client photo.jpg --server=http://localhost:8501 --out=depth_out
    rsn-serve-client photo.jpg --grpc=localhost:8500 --out=depth_out
    rsn-serve-client --health --server=http://localhost:8501      # is the model AVAILABLE?
    rsn-serve-client --info=export/rsn/1                          # the serving contract

Per image it writes ``<stem>_depth.png`` (16-bit PNG, millimetres, NYU's convention),
``<stem>_depth_color.png`` (turbo colour map, near = red) and ``<stem>_depth.npy``
(float32 metres), and ``<stem>_confidence.png``/``.npy`` when the model was exported with
--include_confidence. The requests are TF Serving's documented ones (rsn_tf/serving/client.py).

Calibration, as in rsn-predict: --known=x,y,metres (repeatable) or --sparse_depth=FILE fit the
server's depth to known distances before it is written (``<stem>_calibration.json``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_string("server", "http://localhost:8501", "REST endpoint.", flag_values=FLAGS)
flags.DEFINE_string("grpc", None, "gRPC target host:port (instead of REST).", flag_values=FLAGS)
flags.DEFINE_string("model", "rsn", "TF Serving model name.", flag_values=FLAGS)
flags.DEFINE_string("out", "depth_out", "Output dir.", flag_values=FLAGS)
flags.DEFINE_float("timeout", 60.0, "Seconds to wait for each reply.", flag_values=FLAGS)
flags.DEFINE_boolean("health", False, "Check that the model (--version) is AVAILABLE, then exit.", flag_values=FLAGS)
flags.DEFINE_integer("version", None, "With --health: this version must be AVAILABLE.", flag_values=FLAGS)
flags.DEFINE_string("info", None, "Print the serving bundle of this export (version dir) and exit.", flag_values=FLAGS)
common.define_calibration_flags(FLAGS)


def _info(path: str) -> int:
    from rsn_tf.serving.client import read_serving_info

    info = read_serving_info(path)
    print(f"{info['model_name']} version {info['version']}: {info['format']}")
    for name, spec in info["signatures"].items():
        for kind in ("inputs", "outputs"):
            for tensor, s in spec[kind].items():
                units = info["units"].get(tensor, "")
                print(f"  {name:20s} {kind[:-1]:6s} {tensor:16s} {s['dtype']:8s} {str(s['shape']):16s} {units}")
    limits = info["limits"]
    print(f"Sizes: {info['input_sizes']}")
    print(
        f"Limits: {limits['max_batch']} images per request, sides up to {limits['max_side']} px, "
        f"{limits['max_image_bytes']} bytes per encoded image"
    )
    print(f"Valid depth: {info['valid_depth_range_m'][0]:g}-{info['valid_depth_range_m'][1]:g} m")
    training = info.get("training") or {}
    if training.get("dataset"):
        print(f"Trained on: {training['dataset']} (stage {training.get('stage')}, {training.get('steps')} steps)")
    parent = training.get("fine_tuned_from")
    if parent:
        print(
            f"Fine-tuned from: {parent['path']} (stage {parent['stage']}, trained on {parent['dataset']}; weights "
            f"sha256 {str(parent['weights_sha256'])[:16]}…; frozen: {parent['frozen']})"
        )
    metrics = info.get("test_metrics") or {}
    if metrics.get("metrics"):
        m = metrics["metrics"]
        print(f"Test: abs_rel {m['abs_rel']:.4f}, RMSE {m['rmse']:.4f} m, δ1 {m['delta1']:.4f}")
        if metrics.get("protocol_line"):
            print(f"  {metrics['protocol_line']}")
    print(f"Run it: {info['docker_run']}")
    print(f"Health: {info['health']}")
    return 0


def _send(images: list[str]) -> int:
    from rsn_tf.serving.client import ServingError, check_health, grpc_predict, rest_predict, write_outputs

    if FLAGS.info:
        try:
            return _info(FLAGS.info)
        except ServingError as error:
            raise common.CliError(str(error)) from error
    if FLAGS.health:
        try:
            print(check_health(FLAGS.server, FLAGS.model, FLAGS.version, FLAGS.timeout))
        except ServingError as error:
            print(f"rsn-serve-client: unhealthy: {error}", file=sys.stderr)
            return 1
        return 0
    if not images:
        raise common.CliError("give one or more JPEG or PNG files (or --health, or --info=EXPORT_DIR)")

    fit = common.calibration_options(FLAGS)

    for path in images:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            if FLAGS.grpc:
                result = grpc_predict(FLAGS.grpc, FLAGS.model, [data], FLAGS.timeout)[0]
            else:
                result = rest_predict(FLAGS.server, FLAGS.model, [data], FLAGS.timeout)[0]
        except (OSError, ServingError) as error:
            raise common.CliError(f"{path}: {error}") from error
        stem = os.path.splitext(os.path.basename(path))[0]
        for written in write_outputs(result, FLAGS.out, stem, FLAGS.known, FLAGS.sparse_depth, **fit):
            print(written)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # CalibrationError (a UserError) names the --known or --sparse_depth value.
    return common.run(_send, FLAGS, __doc__, argv, program="rsn-serve-client")


console = common.console_entry(main)

if __name__ == "__main__":
    console()
