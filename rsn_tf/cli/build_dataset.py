"""rsn-build-dataset: build one of our TFDS datasets from wherever your data is.

    rsn-build-dataset --dataset=nyu_region_support/v2 --manual_dir=~/nyu        # .mat files, any names
    rsn-build-dataset --dataset=nyu_region_support/v2 --download                 # try the original host (10 s)
    rsn-build-dataset --dataset=nyu_region_support/v2 --mirror=v2=https://... --mirror=splits=https://...
    rsn-build-dataset --dataset=nyu_h5_tree --manual_dir=~/nyudepthv2           # the sparse-to-dense tree
    rsn-build-dataset --dataset=rgbd_folder --manual_dir=~/my_rgbd               # your own RGB-D folder
    rsn-build-dataset --dataset=rgbd_folder/tum --manual_dir=~/tum --depth_scale=5000 --height=240 --width=320
    rsn-build-dataset --dataset=rgbd_folder/kitchen --manual_dir=~/sequence --holdout_last=30  # test: last 30 frames
    rsn-build-dataset --dataset=nyu_h5_tree --manual_dir=~/nyudepthv2 --beam_workers=8   # Beam, locally
    rsn-build-dataset ... --beam_pipeline_options=runner=DataflowRunner,project=P,...            # Beam, a cluster

It does what ``tfds build`` does, through the TFDS Python API (TFDS 4.9.10's ``tfds`` command
imports Apache Beam and mlcroissant at start-up, so it fails where they are not installed), plus
the NYU download switches, custom ``rgbd_folder`` configs, and Beam builds (the ``[beam]`` extra).
A custom config (any of --height/--width/--depth_scale/--test_fraction/--holdout_last/
--holdout_fraction/--region_mode given) is named by the part after ``rgbd_folder/``; train on it
with ``rsn-train --dataset=rgbd_folder/<name>`` (rsn-train reads the built dataset; it cannot
build a custom config itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
_F = dict(flag_values=FLAGS)
flags.DEFINE_string(
    "dataset", None, "nyu_region_support/<config>, nyu_h5_tree[/<config>] or rgbd_folder[/<config>].", **_F
)
flags.DEFINE_string("manual_dir", None, "Where your files are: NYU .mat files, the h5 tree, or the RGB-D folder.", **_F)
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).", **_F)
flags.DEFINE_boolean(
    "download", False, "NYU: try the original URLs (10 s timeout) for files not in --manual_dir.", **_F
)
flags.DEFINE_multi_string(
    "mirror", [], "NYU: KEY=URL (KEY: v2, v1, splits) to download from; implies --download.", **_F
)
flags.DEFINE_boolean(
    "skip_bad_frames",
    False,
    "NYU: skip corrupt frames (NaN/inf/negative depth, bad class ids) with a warning and count them, "
    "instead of failing the build naming the file, field and frame.",
    **_F,
)
flags.DEFINE_integer("height", None, "rgbd_folder custom config: output height (default 480).", **_F)
flags.DEFINE_integer("width", None, "rgbd_folder custom config: output width (default 640).", **_F)
flags.DEFINE_float("depth_scale", None, "rgbd_folder custom config: depth PNG units per metre (default 1000).", **_F)
flags.DEFINE_float(
    "test_fraction", None, "rgbd_folder custom config: test share of the stem-hash split (default 0.2).", **_F
)
flags.DEFINE_integer(
    "holdout_last",
    None,
    "rgbd_folder custom config: test on the last N frames in file-name order (a sequence's end), "
    "train on the rest; for a folder without train/, test/ or train.txt/test.txt.",
    **_F,
)
flags.DEFINE_float(
    "holdout_fraction",
    None,
    "rgbd_folder custom config: test on the last round(n * p) of the n frames in file-name order "
    "(halves up; at least 1, at most n - 1), train on the rest.",
    **_F,
)
flags.DEFINE_string("region_mode", None, "rgbd_folder custom config: labels, felzenszwalb, slic or depth_only.", **_F)
flags.DEFINE_integer("beam_workers", None, "Build on Apache Beam's DirectRunner with N worker processes.", **_F)
flags.DEFINE_string(
    "beam_pipeline_options",
    None,
    "Build on Apache Beam with these options, as tfds build takes them: comma-separated key=value, e.g. "
    "runner=DataflowRunner,project=P,region=R,temp_location=gs://B/tmp,num_workers=50",
    **_F,
)

_CUSTOM = ("height", "width", "depth_scale", "test_fraction", "holdout_last", "holdout_fraction", "region_mode")


def _builder_kwargs(name: str, config: str | None) -> dict:
    import tfds_nyu

    custom = {k: FLAGS[k].value for k in _CUSTOM if FLAGS[k].value is not None}
    if name == "rgbd_folder":
        if FLAGS.download or FLAGS.mirror or FLAGS.skip_bad_frames:
            raise common.CliError(
                "--download, --mirror and --skip_bad_frames are for nyu_region_support; rgbd_folder reads "
                "--manual_dir (and treats NaN depth as no reading)"
            )
        if not FLAGS.manual_dir:
            raise common.CliError("--manual_dir: rgbd_folder needs your RGB-D folder")
        cls = tfds_nyu.RgbdFolderBuilder
        if custom:
            if config is None or config in {c.name for c in cls.BUILDER_CONFIGS}:
                raise common.CliError(
                    f"--{', --'.join(custom)}: a custom config needs its own name, e.g. --dataset=rgbd_folder/mine"
                )
            return {"config": cls.builder_config_cls(name=config, description="custom (rsn-build-dataset)", **custom)}
        return {"config": config or cls.DEFAULT_CONFIG_NAME}
    if name == "nyu_region_support":
        if custom:
            raise common.CliError(f"--{', --'.join(custom)}: only rgbd_folder takes a custom config")
        urls = {}
        for item in FLAGS.mirror:
            key, sep, url = item.partition("=")
            if not sep or key not in ("v2", "v1", "splits") or not url:
                raise common.CliError(f"--mirror={item!r}: expected KEY=URL with KEY v2, v1 or splits")
            urls[key] = url
        return {
            "config": config or tfds_nyu.Builder.DEFAULT_CONFIG_NAME,
            "download": FLAGS.download or bool(urls),
            "urls": urls,
            "skip_bad_frames": FLAGS.skip_bad_frames,
        }
    if name == "nyu_h5_tree":
        if custom or FLAGS.download or FLAGS.mirror:
            raise common.CliError(
                "--download, --mirror and custom configs are not for nyu_h5_tree; it reads the h5 tree in --manual_dir"
            )
        if not FLAGS.manual_dir:
            raise common.CliError("--manual_dir: nyu_h5_tree needs the dir holding the nyudepthv2/ h5 tree")
        return {
            "config": config or tfds_nyu.NyuH5TreeBuilder.DEFAULT_CONFIG_NAME,
            "skip_bad_frames": FLAGS.skip_bad_frames,
        }
    raise common.CliError(
        f"--dataset={FLAGS.dataset!r}: expected nyu_region_support/<config>, nyu_h5_tree[/<config>] or "
        "rgbd_folder[/<config>]"
    )


def _beam_options():
    """Beam pipeline options from --beam_workers / --beam_pipeline_options, or None (build in process)."""
    if FLAGS.beam_workers is None and not FLAGS.beam_pipeline_options:
        return None
    if FLAGS.beam_workers is not None and FLAGS.beam_pipeline_options:
        raise common.CliError("give --beam_workers or --beam_pipeline_options, not both")
    if FLAGS.beam_workers is not None and FLAGS.beam_workers < 1:
        raise common.CliError(f"--beam_workers={FLAGS.beam_workers}: must be at least 1")
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        from tfds_nyu.generation import BEAM_INSTALL_HINT

        raise common.CliError(f"--beam_*: Apache Beam is not installed: {BEAM_INSTALL_HINT}") from None
    if FLAGS.beam_workers is not None:
        args = ["--runner=DirectRunner", "--direct_running_mode=multi_processing"]
        args.append(f"--direct_num_workers={FLAGS.beam_workers}")
    else:
        items = [kv.strip() for kv in FLAGS.beam_pipeline_options.split(",") if kv.strip()]
        bad = [kv for kv in items if "=" not in kv]
        if bad:
            raise common.CliError(f"--beam_pipeline_options: expected key=value items, got {bad}")
        args = [f"--{kv.lstrip('-')}" for kv in items]
    return PipelineOptions(args)


def _build(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}")
    if not FLAGS.dataset:
        raise common.CliError("--dataset is required, e.g. --dataset=nyu_region_support/v2")
    name, _, config = FLAGS.dataset.partition("/")
    kwargs = _builder_kwargs(name, config or None)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    import tensorflow_datasets as tfds

    import tfds_nyu

    cls = {"rgbd_folder": tfds_nyu.RgbdFolderBuilder, "nyu_h5_tree": tfds_nyu.NyuH5TreeBuilder}.get(
        name, tfds_nyu.Builder
    )
    try:
        builder = cls(data_dir=FLAGS.data_dir, **kwargs)
    except ValueError as error:  # an unknown config name or a bad custom value
        raise common.CliError(f"--dataset={FLAGS.dataset}: {error}") from error
    options = _beam_options()
    download_config = tfds.download.DownloadConfig(manual_dir=FLAGS.manual_dir, beam_options=options)
    builder.download_and_prepare(download_config=download_config)
    info = builder.info
    counts = ", ".join(f"{s} {info.splits[s].num_examples}" for s in info.splits)
    mode = (info.metadata or {}).get("region_mode", "?")
    print(f"\nBuilt {name}/{builder.builder_config.name}: {counts} (region mode {mode})")
    print(f"  at {builder.data_dir}")
    print(
        f"  train on it: rsn-train --dataset={name}/{builder.builder_config.name}"
        + (f" --data_dir={FLAGS.data_dir}" if FLAGS.data_dir else "")
    )
    print(f"  load it anywhere: tfds.builder_from_directory({str(builder.data_dir)!r})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Missing files (FileNotFoundError) and bad files (ValueError: NyuFormatError, RgbdFolderError,
    # NyuH5Error) carry messages that name the file and say what to do.
    return common.run(_build, FLAGS, __doc__, argv, program="rsn-build-dataset", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
