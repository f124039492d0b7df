"""Keeping 1-D convolutions within a device's output limit (Apple's MPS: ``devices.MPS_CONV_OUTPUT_LIMIT``).

The waveform decoders here end in convolutions whose output is the song itself, far longer than the
65 536 samples MPS allows, so on MPS they decode in overlapping chunks whose waveform fits.
"""

from __future__ import annotations

# An Oobleck (Stable Audio / ACE-Step) decoder reaches about 7.2 latent frames either side of a
# frame's own samples (measured by perturbing one frame of a random decoder with the real strides
# 2, 4, 4, 6, 10): 8 frames of context per side leave every kept sample exact.
OOBLECK_REACH_FRAMES = 8


def frames_within(limit_samples: int, samples_per_frame: int) -> int:
    """The most latent frames whose decoded waveform stays within ``limit_samples``."""
    frames = limit_samples // samples_per_frame
    if frames < 2 * OOBLECK_REACH_FRAMES + 1:
        raise ValueError(f"{limit_samples} samples hold only {frames} frames of {samples_per_frame} samples")
    return frames
