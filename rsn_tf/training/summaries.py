"""TensorBoard summaries of a stage: loss terms, learning rate, throughput, and images.

Only the chief writes; on other workers every method is a no-op. Image summaries show
the same test images every epoch of a stage (RGB, ground truth, the predicted region
support and depth), through RSN-TF's one colour map.
"""

from __future__ import annotations

import tensorflow as tf

from rsn_tf.colormap import colorize_depth_tf
from rsn_tf.run_dir import StageDir

__all__ = ["StageSummaries"]


class StageSummaries:
    def __init__(self, stage_dir: StageDir, chief: bool, images: int):
        self.chief = chief
        self.images = images
        self._train = tf.summary.create_file_writer(stage_dir.logs_path("train")) if chief else None
        self._eval = tf.summary.create_file_writer(stage_dir.logs_path("eval")) if chief else None
        self._batch: dict | None = None

    def scalars(self, step: int, losses: dict[str, float], learning_rate: float, images_per_second: float, epoch: int):
        if not self.chief:
            return
        with self._train.as_default():
            for name, value in losses.items():
                tf.summary.scalar(f"loss/{name}", value, step=step)
            tf.summary.scalar("learning_rate", learning_rate, step=step)
            tf.summary.scalar("images_per_second", images_per_second, step=step)
            tf.summary.scalar("epoch", epoch + 1, step=step)

    def images_of(self, step: int, first_batch, predict) -> None:
        """``first_batch()`` gives a test batch (taken once per stage); ``predict(batch)`` the outputs."""
        if not self.chief or not self.images:
            return
        n = self.images
        if self._batch is None:
            self._batch = {k: v[:n] for k, v in first_batch().items()}
        batch = self._batch
        out = predict(batch)
        with self._train.as_default():
            tf.summary.image("rgb", tf.cast(batch["image"], tf.uint8), step=step, max_outputs=n)
            tf.summary.image("depth/ground_truth", colorize_depth_tf(batch["depth"]), step=step, max_outputs=n)
            tf.summary.image(
                "region_support/predicted", colorize_depth_tf(out["region_support"]), step=step, max_outputs=n
            )
            tf.summary.image("depth/predicted", colorize_depth_tf(out["depth"]), step=step, max_outputs=n)

    def evaluation(self, step: int, metrics: dict[str, float]) -> None:
        if not self.chief:
            return
        with self._eval.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=step)

    def close(self) -> None:
        """Write out what is queued. Otherwise TF writes it every 2 minutes or when the writer happens to
        be garbage-collected; a stage's logs are complete when the stage ends, however it ends."""
        for writer in (self._train, self._eval):
            if writer is not None:
                writer.close()
