"""Where a stage's weights start: earlier stages of the same run, else ImageNet, else random.

Each StageSpec lists, per module, the earlier stages to take its weights from, most
preferred first (Section 3.3's chaining). A module with no earlier weights starts
from random initialisation, with a warning that says what was looked for.
"""

from __future__ import annotations

from rsn_tf.run_dir import RunDir
from rsn_tf.schedule import StageSpec

__all__ = ["initialise"]


def initialise(model, stage: StageSpec, run: RunDir, resnet34_weights: str | None = None) -> list[str]:
    """Load module weights into ``model``; returns the messages to print (warnings included)."""
    messages = []
    for module, sources in stage.init:
        for source in sources:
            earlier = run.stage(source)
            if earlier.complete:
                getattr(model, module).load_weights(earlier.weights_path(module))
                messages.append(f"{module}: initialised from stage '{source}' ({earlier.weights_path(module)})")
                break
        else:
            tried = ", ".join(run.stage(s).weights_path(module) for s in sources)
            messages.append(
                f"WARNING: no earlier-stage weights for the {module} module (looked for {tried}); "
                f"it starts from random initialisation instead. Run the earlier stages first "
                f"(--stage={sources[-1]}) or --stage=all for the paper's schedule."
            )
    generation_loaded = any(m.startswith("generation: initialised") for m in messages)
    if resnet34_weights and not generation_loaded and not stage.teacher_forcing:
        from rsn_tf.models.pretrained import load_resnet34_imagenet

        load_resnet34_imagenet(model.generation, resnet34_weights)
        messages.append(f"generation: trunk initialised from ImageNet ResNet34 ({resnet34_weights})")
    return messages
