"""Serving: SavedModel signatures with input limits, the versioned exporter and warm-up records."""

from rsn_tf.serving.exporter import ExportError, export_saved_model
from rsn_tf.serving.signatures import DepthServer, ServingLimits

__all__ = ["DepthServer", "ExportError", "ServingLimits", "export_saved_model"]
