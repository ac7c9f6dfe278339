"""The web demo's server: a Flask app that turns an uploaded photo into depth, confidence and a point cloud.

Flask, because the demo needs exactly what a small, long-maintained WSGI framework gives: a
static page, one upload endpoint with a request-size limit (``MAX_CONTENT_LENGTH`` answers
413 before the body is read), JSON errors, and two download routes. The page itself is plain
HTML and JavaScript (rsn_tf/demo/static/): no build step, no CDN, so it works offline.

Endpoints:

* ``GET /``: the page;
* ``POST /api/predict`` (multipart field ``image``): JSON with the colourised depth, a colour
  bar in metres, the confidence map when the model gives one, a millimetre depth grid for the
  read-out under the pointer, a subsampled coloured point cloud, the intrinsics' source, and
  the download URLs;
* ``GET /api/result/<id>/depth.png`` (16-bit, millimetres) and ``/cloud.ply``: the last
  ``keep`` results, in memory.

Bad uploads (no file, an empty file, not an image, too many bytes, too many pixels) get a 4xx
JSON ``{"error": ...}`` that the page shows; the server keeps serving.
"""

from __future__ import annotations

import base64
import collections
import io
import threading
import uuid
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rsn_tf.camera import back_project, resolve_intrinsics
from rsn_tf.colormap import colorize_depth, colour_bar, shared_depth_range
from rsn_tf.depth_files import depth_to_png16, write_ply

if TYPE_CHECKING:
    from flask import Flask

    from rsn_tf.depth_sources import DepthSource

__all__ = ["create_app", "MAX_POINTS"]

MAX_POINTS = 40_000  # sent to the browser for the 3D view; the .ply download has every pixel


def _png_data_url(bgr_or_gray: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", bgr_or_gray)
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")


class _Results:
    """The last few results, for the download links (thread-safe, bounded)."""

    def __init__(self, keep: int):
        self.keep = keep
        self._items: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, item: dict) -> str:
        key = uuid.uuid4().hex[:12]
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._items.get(key)


def create_app(source: DepthSource, max_bytes: int = 20 * 1024 * 1024, max_side: int = 4096, keep: int = 8) -> Flask:
    """The Flask app around a depth source (rsn_tf.depth_sources.DepthSource)."""
    from flask import Flask, Response, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    results = _Results(keep)
    lock = threading.Lock()  # one prediction at a time: the model is not shared across threads
    static = __file__.rsplit("/", 1)[0] + "/static"

    def error(status: int, message: str):
        response = jsonify({"error": message})
        response.status_code = status
        return response

    @app.errorhandler(413)
    def too_large(_):
        return error(413, f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB")

    @app.errorhandler(Exception)
    def unexpected(exc):  # the server stays up; the page shows what went wrong
        if isinstance(exc, HTTPException):
            return error(exc.code or 500, exc.description or str(exc))
        app.logger.exception("prediction failed")
        return error(500, f"the server could not process this image ({type(exc).__name__}: {exc})")

    @app.get("/")
    def index():
        return send_from_directory(static, "index.html")

    @app.get("/static/<path:name>")
    def assets(name):
        return send_from_directory(static, name)

    @app.post("/api/predict")
    def predict():
        upload = request.files.get("image")
        if upload is None:
            return error(400, "no file: send the photo in the form field 'image'")
        data = upload.read()
        if not data:
            return error(400, f"{upload.filename or 'the file'} is empty")
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            return error(400, f"{upload.filename or 'the file'} is not an image OpenCV can read (JPEG, PNG, BMP, WebP)")
        height, width = bgr.shape[:2]
        if max(height, width) > max_side:
            return error(400, f"the image is {width}x{height}; the limit is {max_side} px per side, downscale it first")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with lock:
            out = source.predict({"image": rgb[None]})
        depth = np.asarray(out["depth"][0], np.float32)
        confidence = out.get("confidence")
        intrinsics = resolve_intrinsics(height, width, io.BytesIO(data))
        points = back_project(depth, *intrinsics.k)
        key = results.add({"depth": depth, "points": points, "rgb": rgb, "name": upload.filename or "photo"})
        max_depth = shared_depth_range([depth])
        stride = max(1, int(np.ceil(np.sqrt(height * width / MAX_POINTS))))
        cloud_xyz = points[::stride, ::stride].reshape(-1, 3).astype(np.float32)
        cloud_rgb = rgb[::stride, ::stride].reshape(-1, 3).astype(np.uint8)
        body = {
            "id": key,
            "width": width,
            "height": height,
            "max_depth": max_depth,
            "depth_image": _png_data_url(colorize_depth(depth, max_depth)),
            "colour_bar": _png_data_url(colour_bar(260, max_depth)),
            "confidence_image": None,
            "depth_mm": base64.b64encode(depth_to_png16(depth).tobytes()).decode("ascii"),
            "points": base64.b64encode(cloud_xyz.tobytes()).decode("ascii"),
            "colors": base64.b64encode(cloud_rgb.tobytes()).decode("ascii"),
            "intrinsics": intrinsics.to_dict(),
            "median_depth_m": float(np.median(depth)),
            "downloads": {"png": f"/api/result/{key}/depth.png", "ply": f"/api/result/{key}/cloud.ply"},
        }
        if confidence is not None:
            gray = np.round(np.clip(confidence[0], 0, 1) * 255).astype(np.uint8)
            body["confidence_image"] = _png_data_url(cv2.applyColorMap(gray, cv2.COLORMAP_VIRIDIS))
        return jsonify(body)

    @app.get("/api/result/<key>/depth.png")
    def download_png(key):
        item = results.get(key)
        if item is None:
            return error(404, "this result is no longer kept; upload the photo again")
        ok, data = cv2.imencode(".png", depth_to_png16(item["depth"]))
        stem = item["name"].rsplit(".", 1)[0]
        return Response(
            data.tobytes(),
            mimetype="image/png",
            headers={"Content-Disposition": f'attachment; filename="{stem}_depth.png"'},
        )

    @app.get("/api/result/<key>/cloud.ply")
    def download_ply(key):
        item = results.get(key)
        if item is None:
            return error(404, "this result is no longer kept; upload the photo again")
        buffer = io.BytesIO()
        write_ply(buffer, item["points"], item["rgb"])
        stem = item["name"].rsplit(".", 1)[0]
        return Response(
            buffer.getvalue(),
            mimetype="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{stem}.ply"'},
        )

    return app
