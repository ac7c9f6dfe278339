"""Where examples are made: in this process, or on Apache Beam (TFDS's route from 2 cores to a cluster).

Every builder describes a split as a list of small, picklable *items* (a frame's path, or
a (file, index) pair) and one module-level function that turns an item into its examples.
``split_examples`` then runs that function either

* in this process, one item at a time (the default: no extra dependency), or
* as a Beam pipeline, when the build asks for one (``tfds build ... --beam_pipeline_options=...``,
  or ``DownloadConfig(beam_runner=...)`` / ``beam_options=...``): ``Create`` the items,
  ``Reshuffle`` them over the workers, and ``ParDo`` the same function.

Both routes call the same function on the same items, so they produce the same examples,
byte for byte (a test checks it); only the order of examples within shards may differ.
Beam is the optional extra ``pip install 'rsn-tf[beam]'``.

Frames without valid depth are skipped and logged on both routes. In process they are also
counted into ``info.metadata["skipped_frames"]``; on Beam, workers cannot write the
metadata, so they are counted in the Beam counter ``rsn_tf:skipped_frames``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["BEAM_INSTALL_HINT", "beam_requested", "split_examples"]

BEAM_INSTALL_HINT = "pip install 'rsn-tf[beam]' (or pip install apache-beam==2.77.0)"

# make(item) -> list of (key, example); an empty list means the item was skipped.
MakeExamples = Callable[[Any], list[tuple[str, dict]]]


def beam_requested(download_config: Any) -> bool:
    """True when the build was given a Beam runner or Beam pipeline options."""
    return bool(getattr(download_config, "beam_runner", None) or getattr(download_config, "beam_options", None))


def _in_process(items: Sequence[Any], make: MakeExamples, on_skipped: Callable[[int], None]):
    skipped = 0
    for item in items:
        pairs = make(item)
        if not pairs:
            skipped += 1
        yield from pairs
    on_skipped(skipped)


def split_examples(
    items: Iterable[Any],
    make: MakeExamples,
    use_beam: bool,
    name: str,
    on_skipped: Callable[[int], None],
):
    """The examples of one split: a generator (in process) or a ``beam.PTransform`` (on Beam).

    ``make`` must be picklable (a module-level function or a ``functools.partial`` of one)
    for the Beam route. ``on_skipped(n)`` receives the in-process skip count at the end.
    """
    items = list(items)
    if not use_beam:
        return _in_process(items, make, on_skipped)
    try:
        import apache_beam as beam
    except ImportError as error:
        raise ImportError(
            f"This build asked for Apache Beam (a beam runner or pipeline options), which is not installed: "
            f"{BEAM_INSTALL_HINT}"
        ) from error

    class _Make(beam.DoFn):
        def __init__(self, fn: MakeExamples):
            self._fn = fn
            self._skipped = beam.metrics.Metrics.counter("rsn_tf", "skipped_frames")

        def process(self, item):
            pairs = self._fn(item)
            if not pairs:
                self._skipped.inc()
            yield from pairs

    return (
        f"{name}/items" >> beam.Create(items)
        | f"{name}/spread" >> beam.Reshuffle()
        | f"{name}/examples" >> beam.ParDo(_Make(make))
    )
