"""rsn-serve-client: send photos to a TF Serving endpoint; write depth PNG, colour PNG and .npy.

    rsn-serve-client photo.jpg --server=http://localhost:8501 --out=depth_out
    rsn-serve-client photo.jpg --grpc=localhost:8500 --out=depth_out

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
common.define_calibration_flags(FLAGS)


def _send(images: list[str]) -> int:
    if not images:
        raise common.CliError("give one or more JPEG or PNG files")
    from rsn_tf.serving.client import ServingError, grpc_predict, rest_predict, write_outputs

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


if __name__ == "__main__":
    sys.exit(main())
