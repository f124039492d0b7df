"""ACE-Step's editing tasks as data: which pipeline task each one runs and on which weights.

Import-free (no torch, no diffusers), so the UI and the budget can read it. Facts from upstream
ACE-Step 1.5: the turbo weights are trained for text2music, repaint and cover; extract, lego and
complete need the (non-distilled) base weights, which want ~32 steps with guidance 7. "extend" is
upstream's outpainting: the source padded with silence and repainted from its end onwards.
"""

from __future__ import annotations

from studio import settings
from studio.tasks import BackendTasks, WeightsVariant, declare_backend_tasks

BASE_WEIGHTS_ENV = settings.ACESTEP_BASE_WEIGHTS.name
BASE = WeightsVariant(
    name="base",
    display_name="ACE-Step 1.5 XL base",
    default_weights="ACE-Step/acestep-v15-xl-base-diffusers",
    weights_env=BASE_WEIGHTS_ENV,
    download_gb=10.0,
    guided=True,
    option_defaults={"steps": 32, "guidance_scale": 7.0},
)

# studio task -> the diffusers AceStepPipeline ``task_type`` that does it.
PIPELINE_TASK: dict[str, str] = {
    "text2music": "text2music",
    "cover": "cover",
    "repaint": "repaint",
    "extend": "repaint",
    "extract": "extract",
    "lego": "lego",
    "complete": "complete",
}

TASK_WEIGHTS: dict[str, WeightsVariant] = {"extract": BASE, "lego": BASE, "complete": BASE}

# The stem names ACE-Step 1.5 was trained to extract / add (its TRACK_NAMES).
TRACKS: tuple[str, ...] = (
    "vocals", "backing_vocals", "drums", "bass", "guitar", "keyboard", "percussion", "strings", "synth",
    "fx", "brass", "woodwinds",
)

TASKS: tuple[str, ...] = tuple(PIPELINE_TASK)


def weights_for(task: str) -> WeightsVariant | None:
    """The extra weights ``task`` needs (None: the turbo weights already loaded do it)."""
    return TASK_WEIGHTS.get(task)


declare_backend_tasks("acestep", BackendTasks(weights=TASK_WEIGHTS, tracks=TRACKS))
