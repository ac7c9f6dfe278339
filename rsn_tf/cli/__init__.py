"""The command lines, one module each, all on absl flags (see common.py). Installed as console
scripts by ``pip install -e .``:

    rsn-train         cli/train.py         the paper's training schedule
    rsn-export        cli/export.py        versioned SavedModels for TF Serving
    rsn-evaluate      cli/evaluate.py      metrics, region statistics and figures on a split
    rsn-predict       cli/predict.py       depth PNGs, .npy and point clouds for photos
    rsn-ablation      cli/ablation.py      the paper's Table 3
    rsn-serve-client  cli/serve_client.py  a REST / gRPC client for TF Serving
    rsn-synthesize    cli/synthesize.py    synthetic scenes in NYU's .mat layout
    rsn-build-dataset cli/build_dataset.py NYU (.mat, h5 tree) or your RGB-D folder as a TFDS dataset

Each also runs as ``python -m rsn_tf.cli.<name>``.
"""
