"""Exactly the files ACE-Step's loaders open, fetched from the Hub before the GPU is asked for.

On ZeroGPU a download inside the GPU function is paid in the visitor's GPU seconds, so the
studio fetches these in the main process first (``SPEC.prefetch``) and the loaders then read the
same files from the cache. The patterns are the loaders' own: widening one downloads files
nothing opens (READMEs, ``.bin`` duplicates, other subfolders of a shared repository); narrowing
one makes the loader fetch the missing file on the GPU after all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# AceStepPipeline.from_pretrained reads model_index.json, then per component its config, its
# safetensors weights (with the shard index when sharded) and, for the tokenizer, every file in
# its folder (diffusers pipeline_loading_utils / transformers tokenizer loading).
PIPELINE_FILES = [
    "model_index.json",
    "*/config.json",
    "*/*.safetensors",
    "*/*.safetensors.index.json",
    "scheduler/*.json",
    "tokenizer/*",
]
# Qwen3ForCausalLM + AutoTokenizer: config and generation config, weights (and index), tokenizer
# json/txt files and the chat template.
PLANNER_FILES = ["*.json", "*.safetensors", "*.txt", "*.jinja"]


def fetch_pipeline(location: str, *, what: str, env_var: str,
                   on_progress: Callable[[str], None] | None = None) -> Path:
    """The folder holding a diffusers ACE-Step pipeline (a local folder as is)."""
    from studio import weights as weights_source

    return weights_source.fetch(location, what=what, env_var=env_var, allow_patterns=PIPELINE_FILES,
                                on_progress=on_progress)


def fetch_planner(weights: str | None) -> str:
    """A local folder holding the planner ``weights`` (a size such as ``1.7B``, a Hub id, a folder):
    for a size whose files sit in a subfolder of a shared repository, only that subfolder."""
    from backends.acestep.declaration import PLANNER_ENV
    from backends.acestep.planner.model import resolve_checkpoint
    from studio import weights as weights_source

    checkpoint = resolve_checkpoint(weights)
    if checkpoint.local:
        return checkpoint.repo
    sub = checkpoint.subfolder
    patterns = [f"{sub}/{p}" for p in PLANNER_FILES] if sub else list(PLANNER_FILES)
    folder = weights_source.fetch(checkpoint.repo, what=f"the ACE-Step planner ({checkpoint.describe()})",
                                  env_var=PLANNER_ENV, allow_patterns=patterns)
    return str(folder / sub) if sub else str(folder)
