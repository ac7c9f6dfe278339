"""RSN-TF: Region Support Network for single-image depth, in TensorFlow/Keras.

Modules:
  region_support  Algorithm 1: re-segmented regions I and region support R.
  losses          L2 (eq. 1), region loss Lr (eq. 2), iterative Li (eq. 3), combined Lc (eq. 4).
  metrics         NYU depth metrics (Table 2), numpy and streaming Keras.
  models          the generation and refinement modules, the end-to-end RSN, presets.
  training        the paper's schedule (stages), the task and the tf.distribute trainer.
  serving         SavedModel export for TF Serving.
  evaluation      evaluation over a split, region statistics, figures, the Table 3 ablation.
CLIs: python -m rsn_tf.evaluate | rsn_tf.ablation | rsn_tf.predict; train.py; export.py.
"""

__version__ = "0.1.0"
