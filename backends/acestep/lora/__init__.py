"""LoRAs for the ACE-Step DiT: parse a reference, check a file without loading it, keep a set applied.

A LoRA is named by a local ``.safetensors`` file, a local folder holding one, or a Hub id
(``owner/name`` or ``owner/name/path/in/repo.safetensors``). Only safetensors are read, never a
pickle: the header (a little-endian u64 length, then JSON naming each tensor's dtype, shape and
byte range) is checked before any tensor is touched, so a wrong, oversized or hostile file costs
a few kilobytes of reading and one sentence saying what to change.

Three key layouts load (all end up as diffusers/PEFT module names of ``AceStepTransformer1DModel``):

* diffusers: ``transformer.layers.0.self_attn.to_q.lora_A.weight`` (``save_lora_weights``),
* ACE-Step-1.5's own trainer (a PEFT adapter folder): ``base_model.model.layers.0.self_attn.q_proj
  .lora_A.weight`` with ``adapter_config.json`` beside it for alpha,
* ``lora_down`` / ``lora_up`` (+ ``alpha``) pairs under any of those prefixes.

This module imports only the standard library and pydantic at the top: ``spec.py`` uses
:class:`LoraRef` and must stay cheap. torch, safetensors and huggingface_hub load on first use.
"""

from backends.acestep.lora.apply import LoraSet, fingerprint
from backends.acestep.lora.check import LoraInfo, check_lora_file, read_header
from backends.acestep.lora.refs import (
    MAX_LORAS,
    MAX_MB_ENV,
    MAX_RANK_ENV,
    LoraError,
    LoraRef,
    check_ref_list,
    coerce_refs,
    format_lora_arg,
    parse_lora_arg,
)
from backends.acestep.lora.sources import check_lora, looks_local, lora_option, resolve

__all__ = [
    "MAX_LORAS",
    "MAX_MB_ENV",
    "MAX_RANK_ENV",
    "LoraError",
    "LoraInfo",
    "LoraRef",
    "LoraSet",
    "check_lora",
    "check_lora_file",
    "check_ref_list",
    "coerce_refs",
    "fingerprint",
    "format_lora_arg",
    "looks_local",
    "lora_option",
    "parse_lora_arg",
    "read_header",
    "resolve",
]
