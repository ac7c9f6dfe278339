"""The synthetic worlds by name: how to make a scene, render it, and the class tables of v2 and v1."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from tfds_nyu.synthetic import hard, hard_scene, simple
from tfds_nyu.synthetic.frame import RenderedFrame

__all__ = ["WORLDS", "World", "world"]


class World(NamedTuple):
    make_scene: Callable[..., object]  # (index, seed) -> scene
    render: Callable[..., RenderedFrame]  # (scene, pose, height, width) -> frame
    v2_names: tuple[str, ...]
    v1_names: tuple[str, ...]


_WORLDS = {
    "simple": World(simple.make_scene, simple.render, simple.V2_NAMES, simple.V1_NAMES),
    "hard": World(hard_scene.make_hard_scene, hard.render_hard, hard_scene.HARD_V2_NAMES, hard_scene.HARD_V1_NAMES),
}
WORLDS = tuple(_WORLDS)


def world(name: str) -> World:
    """The world called ``name`` (one of ``WORLDS``)."""
    try:
        return _WORLDS[name]
    except KeyError:
        raise ValueError(f"world: unknown synthetic world {name!r}; choose from {', '.join(WORLDS)}") from None
