"""Our own code makes no deprecated calls, and the suite would notice one (issue 15, item 8)."""

from __future__ import annotations

import warnings

import pytest
import torch


def tiny_lm():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8, vocab_size=64, max_position_embeddings=256)
    return Qwen3ForCausalLM(config).eval()


def test_the_planner_decodes_with_the_current_cache_argument() -> None:
    """transformers 5.25 marks `past_key_values` on Qwen3ForCausalLM.forward with
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache"); passing it warned (and breaks in 5.40)."""
    from backends.acestep.planner.decoding import Sampling, cache_argument, decode

    model = tiny_lm()
    assert cache_argument(model) == "cache"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens = decode(model, [1, 2, 3], max_new_tokens=12, stop_ids={63}, pad_id=0,
                        sampling=Sampling(temperature=1.0, top_p=None), uncond_ids=[1, 2],
                        generator=torch.Generator().manual_seed(0))
    assert len(tokens) >= 1
    assert not [w for w in caught if issubclass(w.category, (DeprecationWarning, FutureWarning))]


def test_the_cache_follows_the_new_name_exactly_as_the_old_one_did() -> None:
    """Same logits step by step whichever name the cache travels under (the old one silenced here)."""
    model = tiny_lm()
    ids = torch.tensor([[5, 6, 7]])
    first = model(input_ids=ids, use_cache=True)
    step = model(input_ids=torch.tensor([[8]]), use_cache=True, cache=first.cache)
    full = model(input_ids=torch.tensor([[5, 6, 7, 8]]))
    assert torch.allclose(step.logits[0, -1], full.logits[0, -1], atol=1e-5)


def test_a_model_that_knows_only_the_old_name_still_gets_it() -> None:
    from backends.acestep.planner.decoding import cache_argument

    class OldStyle(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=True):
            raise NotImplementedError

    assert cache_argument(OldStyle()) == "past_key_values"


def _run_as(module: str, source: str, **names):
    """Run ``source`` as if it were code in ``module`` (so warnings and frames name that module)."""
    scope = {"__name__": module, **names}
    exec(compile(source, f"<{module}>", "exec"), scope)
    return scope


def test_a_deprecated_call_from_our_code_is_an_error_even_when_attributed_elsewhere() -> None:
    model = tiny_lm()
    first = model(input_ids=torch.tensor([[1, 2]]), use_cache=True)
    call = "model(input_ids=next_ids, use_cache=True, past_key_values=cache)"
    args = {"model": model, "next_ids": torch.tensor([[3]]), "cache": first.cache}
    with pytest.raises(FutureWarning, match="past_key_values"):
        _run_as("backends.some_module", call, **args)
    with pytest.warns(FutureWarning, match="past_key_values"):  # a library's own call: reported, not failed
        _run_as("somelibrary.module", call, **args)


def test_a_deprecation_attributed_to_our_module_is_an_error() -> None:
    """pyproject's filterwarnings: `error::DeprecationWarning:(studio|backends)(\\.|$)` (and FutureWarning)."""
    source = "import warnings\nwarnings.warn('old api', DeprecationWarning)"
    with pytest.raises(DeprecationWarning, match="old api"):
        _run_as("studio.some_module", source)
    with pytest.raises(FutureWarning, match="old api"):
        _run_as("backends.x", source.replace("DeprecationWarning", "FutureWarning"))
