"""What the region-support builders share: the config fields every one declares, and the manual dir.

Every builder config says what kind of dataset it makes (``kind``) and, from that, whether
it needs a manual dir (``needs_manual_dir``), so that callers (``rsn_tf.data``) read it
instead of guessing from config names. ``height`` and ``width`` are the size of the stored
examples; configs that read NYU's files must keep NYU's 480x640.
"""

from __future__ import annotations

import dataclasses
import logging

import tensorflow_datasets as tfds
from etils import epath

from tfds_nyu import label_free
from tfds_nyu.examples import BadFrameError
from tfds_nyu.generation import beam_requested
from tfds_nyu.limits import NYU_SIZE

__all__ = ["KINDS", "BuildRequest", "RegionSupportConfig", "bad_frame", "manual_dir"]

log = logging.getLogger(__name__)

# kind -> needs a manual dir. nyu_mat: NYU's labelled .mat files; synthetic: rendered here;
# nyu_h5: the sparse-to-dense h5 tree; rgbd_folder: the user's RGB-D folder.
KINDS = {"nyu_mat": True, "synthetic": False, "nyu_h5": True, "rgbd_folder": True}
# Kinds whose examples come from files fixed at NYU's size.
FIXED_SIZE_KINDS = ("nyu_mat", "nyu_h5")


@dataclasses.dataclass
class RegionSupportConfig(tfds.core.BuilderConfig):
    """Fields every config of our builders has; subclasses set ``kind`` and add their own."""

    kind: str = ""
    height: int = NYU_SIZE[0]
    width: int = NYU_SIZE[1]
    region_mode: str = "labels"  # tfds_nyu.label_free.REGION_MODES: where Algorithm 1's semantic map comes from

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind {self.kind!r}, expected one of {', '.join(KINDS)}")
        label_free.check_region_mode(self.region_mode)
        if self.height < 8 or self.width < 8:
            raise ValueError(f"height, width: must be at least 8, got {self.height}x{self.width}")
        if self.kind in FIXED_SIZE_KINDS and (self.height, self.width) != NYU_SIZE:
            raise ValueError(
                f"{self.name}: height, width: {self.kind} files are {NYU_SIZE[0]}x{NYU_SIZE[1]} and are stored "
                f"at that size, got {self.height}x{self.width} (a synthetic config can be any size)"
            )

    @property
    def needs_manual_dir(self) -> bool:
        """True when the build reads the user's files from a manual dir; False when it makes its own."""
        return KINDS[self.kind]


class BuildRequest:
    """Mixed into every builder: what this build was asked for, read at its start from the public
    DownloadConfig (per instance, never per class): the manual dir the user gave (TFDS's
    ``dl_manager.manual_dir`` raises the same AssertionError for "none given" and for "given but
    empty", which need different answers) and whether to generate on Beam."""

    def __init__(self, **kwargs):
        self._use_beam = False
        self._requested_manual_dir: str | None = None
        super().__init__(**kwargs)

    def _download_and_prepare(self, dl_manager, download_config):
        self._requested_manual_dir = download_config.manual_dir
        self._use_beam = beam_requested(download_config)
        return super()._download_and_prepare(dl_manager, download_config)


def manual_dir(dl_manager: tfds.download.DownloadManager, requested: str | None) -> epath.Path:
    """The manual dir asked for, else TFDS's (``<download_dir>/manual`` unless set otherwise).

    ``requested`` comes from the public DownloadConfig: TFDS's ``dl_manager.manual_dir``
    raises the same AssertionError for "none given" and for "given but empty", which need
    different answers.
    """
    if requested:
        return epath.Path(requested)
    try:
        return epath.Path(dl_manager.manual_dir)
    except AssertionError:  # TFDS: its default manual dir is missing or empty; name it in our message
        return epath.Path(dl_manager.download_dir) / "manual"


def bad_frame(where: str, reason: str, skip_bad: bool) -> list:
    """Skip (with a warning; counted as skipped) or fail the build on a corrupt frame."""
    if skip_bad:
        log.warning("%s: %s: skipped (skip_bad_frames)", where, reason)
        return []
    raise BadFrameError(
        f"{where}: {reason}. The file is corrupt there: fetch it again, or build with "
        "rsn-build-dataset --skip_bad_frames to skip such frames (they are counted)"
    )
