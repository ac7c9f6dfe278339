"""rsn-demo: a local web page to try a depth model on your photos.

    rsn-demo --model=export/rsn/1              # then open http://127.0.0.1:8080
    rsn-demo --model=runs/rsn --confidence     # a run dir or .keras also shows the confidence map

Drop or choose a photo: the page shows the colourised depth with a colour bar in metres, a
read-out of the depth under the pointer, the confidence map (a SavedModel exported with
--include_confidence, or a run dir / .keras with --confidence), and a point cloud you can
rotate; it offers the 16-bit depth PNG (millimetres) and the .ply for download. The server
listens on 127.0.0.1 unless --host says otherwise: it is a demo, not a production server (use
TF Serving for that). Bad uploads get a message on the page; the server keeps serving.
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
_F = dict(flag_values=FLAGS)
flags.DEFINE_string("model", None, "SavedModel, export base, rsn-train --model_dir, .keras or .tflite.", **_F)
flags.DEFINE_string("host", "127.0.0.1", "Interface to listen on (127.0.0.1: this machine only).", **_F)
flags.DEFINE_integer("port", 8080, "Port.", **_F)
flags.DEFINE_integer("max_bytes", 20 * 1024 * 1024, "Largest upload accepted, in bytes.", **_F)
flags.DEFINE_integer("max_side", 4096, "Largest image side accepted, in pixels.", **_F)
flags.DEFINE_boolean("confidence", False, "Keras models: also show the confidence map.", **_F)


def _serve(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}; give the model with --model=PATH")
    if not FLAGS.model:
        raise common.CliError("--model is required: a SavedModel, export base, run dir, .keras or .tflite file")
    if FLAGS.max_bytes < 1 or FLAGS.max_side < 1:
        raise common.CliError("--max_bytes and --max_side must be positive")
    from rsn_tf.demo.app import create_app
    from rsn_tf.depth_sources import load_source

    source = load_source(FLAGS.model, confidence="flip" if FLAGS.confidence else None)
    app = create_app(source, FLAGS.max_bytes, FLAGS.max_side)
    print(f"RSN-TF demo for {FLAGS.model}: open http://{FLAGS.host}:{FLAGS.port}/ (Ctrl-C stops it)", flush=True)
    app.run(host=FLAGS.host, port=FLAGS.port, threaded=True, use_reloader=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return common.run(_serve, FLAGS, __doc__, argv, program="rsn-demo", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
