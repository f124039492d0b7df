"""ACE-Step 1.5's 5 Hz LM planner: our own code on transformers' ``Qwen3ForCausalLM``.

It writes the song's metadata (bpm, caption, duration, key, language, time signature) and then
the 5 Hz audio codes that condition ``AceStepPipeline`` (its ``audio_codes`` argument). Simple
mode uses the same model to turn a one-line description into caption, lyrics and metadata.

Heavy imports (torch, transformers) happen only in ``model``, ``decoding``, ``constrained`` and
``planner``; ``prompts``, ``metadata`` and ``cost`` are import-cheap.
"""

from __future__ import annotations

from backends.acestep.planner.cost import PlannerCost, estimate_planner_cost
from backends.acestep.planner.prompts import NO_USER_INPUT

__all__ = ["NO_USER_INPUT", "PlannerCost", "estimate_planner_cost"]
