"""How ACE-Step's VAE decodes and encodes: whole, or in overlapping tiles one take at a time.

Two reasons to tile:
- memory: diffusers decodes every take of the batch at once, untiled, and the decode grows with the
  song (``spec.MEMORY``); ``AutoencoderOobleck`` (diffusers 0.42) can instead decode tiles along the
  time axis (``use_tiling``, 512 latent frames with 64 on each side by default) and one take at a
  time (``use_slicing``), which the pipeline honours because it calls ``vae.decode``/``vae.encode``;
- Apple's MPS, which refuses any convolution whose output has a dimension over 65 536
  (``devices.MPS_CONV_OUTPUT_LIMIT``): every tile's waveform must stay within it, in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backends.conv_limit import OOBLECK_REACH_FRAMES, frames_within

# ACE-Step's VAE: 48 kHz / (2 * 4 * 4 * 6 * 10) = 25 latent frames per second.
LATENT_HOP = 1920


@dataclass(frozen=True)
class VaeTiling:
    """Tile geometry in latent frames: the longest window decoded at once and its overlap per side."""

    frames: int
    overlap: int

    def __post_init__(self) -> None:
        if self.frames <= 2 * self.overlap:
            raise ValueError(f"tiles of {self.frames} frames cannot overlap {self.overlap} on each side")


# diffusers' own defaults for AutoencoderOobleck (tile_latent_min_length, tile_latent_overlap).
MEMORY_TILES = VaeTiling(frames=512, overlap=64)


def tiles_within(limit_samples: int, overlap: int = OOBLECK_REACH_FRAMES) -> VaeTiling:
    """The longest tiles whose waveform stays within ``limit_samples`` (Apple's conv limit); the
    overlap covers the decoder's reach, so tiled and whole decodes agree."""
    return VaeTiling(frames=frames_within(limit_samples, LATENT_HOP), overlap=overlap)


def apply(vae: Any, tiling: VaeTiling | None) -> None:
    """Set ``vae`` (an AutoencoderOobleck) to decode and encode whole, or in these tiles."""
    vae.use_tiling = tiling is not None
    vae.use_slicing = tiling is not None
    if tiling is None:
        return
    vae.tile_latent_min_length = tiling.frames
    vae.tile_latent_overlap = tiling.overlap
    # Encoding splits the waveform: the same tiles in samples, so its first convolution's output
    # (as long as its input) stays within the limit too.
    vae.tile_sample_min_length = tiling.frames * LATENT_HOP
    vae.tile_sample_overlap = tiling.overlap * LATENT_HOP
