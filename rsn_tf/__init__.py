"""RSN-TF: Region Support Network for single-image depth, in TensorFlow/Keras.

Modules:
  region_support  Algorithm 1: re-segmented regions I and region support R.
  losses          L2 (eq. 1), region loss Lr (eq. 2), iterative Li (eq. 3), combined Lc (eq. 4).
  metrics         NYU depth metrics (Table 2), numpy and streaming Keras.
  models          the generation and refinement modules, the end-to-end RSN, presets.
  config          the experiment config (task, data, model, optimizer, trainer, runtime).
  run_dir         the one owner of the run and stage directory format.
  data            the input pipeline from the TFDS dataset to batches.
  training        the paper's schedule (stages), the task and the tf.distribute trainer.
  serving         SavedModel export for TF Serving, and a TF Serving client.
  evaluation      evaluation over a split, region statistics, figures, the Table 3 ablation.
  colormap, depth_files, camera   the depth colour map, the files written per image, the Kinect camera.
  cli             the command lines: rsn-train, rsn-export, rsn-evaluate, rsn-predict,
                  rsn-ablation, rsn-serve-client, rsn-synthesize.
"""

__version__ = "0.1.0"
