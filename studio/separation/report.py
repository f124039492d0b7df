"""How good a split is, in numbers a producer can read: reconstruction error and near-silent stems."""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# A stem this far below the mix (RMS) holds nothing a producer would use: the song has no such part
# (no piano in a rap track) or the model put it elsewhere. It is kept and labelled, never dropped.
NEAR_SILENT_BELOW_MIX_DB = 40.0
_FLOOR = 1e-12


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, _FLOOR))


class StemLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    rms_dbfs: float
    peak_dbfs: float
    below_mix_db: float = Field(description="How far the stem's RMS sits under the mix's.")
    near_silent: bool


# Bands for fit_words (see there).
CLOSE_DB = -30.0
LOOSE_DB = -10.0


class SeparationReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reconstruction_error_db: float = Field(
        description="Energy of (sum of stems - mix) relative to the mix, in dB; lower is better "
        "(-30 dB: the stems add back to the mix within about 3 %)."
    )
    stems: tuple[StemLevel, ...]

    @property
    def near_silent(self) -> list[str]:
        return [s.name for s in self.stems if s.near_silent]

    def fit_words(self) -> str:
        """How well the stems add back to the mix, in words a producer reads (the dB figure alone read as
        praise: "within 0.0 dB" was a split whose error is as loud as the mix). Our own bands: -30 dB is an
        error at 3 % of the mix's amplitude, -10 dB at a third of it."""
        error = self.reconstruction_error_db
        if error <= CLOSE_DB:
            return f"the stems add back to the mix closely (reconstruction error {error:.1f} dB)"
        if error <= LOOSE_DB:
            return f"the stems add back to the mix only loosely (reconstruction error {error:.1f} dB)"
        return (f"the stems do not add back to the mix (reconstruction error {error:.1f} dB, about as loud as "
                "the mix itself): the split lost or invented much of the song")

    def sentences(self) -> list[str]:
        """What the UI, the CLI and the API say about the split besides the files."""
        out = [self.fit_words() + "."]
        for stem in self.stems:
            if stem.near_silent:
                out.append(
                    f"the {stem.name} stem is near-silent ({stem.below_mix_db:.0f} dB under the mix): the song may "
                    f"have no {stem.name}, or the model heard it as another part. It is included anyway."
                )
        return out


def measure(mix: np.ndarray, stems: dict[str, np.ndarray]) -> SeparationReport:
    mix = np.asarray(mix, dtype=np.float64)
    mix_power = float(np.mean(mix**2))
    total = np.sum([np.asarray(a, dtype=np.float64) for a in stems.values()], axis=0)
    error = _db(float(np.mean((total - mix) ** 2))) - _db(mix_power)
    levels = []
    for name, audio in stems.items():
        power = float(np.mean(np.asarray(audio, dtype=np.float64) ** 2))
        below = _db(mix_power) - _db(power)
        levels.append(StemLevel(
            name=name, rms_dbfs=round(_db(power), 2),
            peak_dbfs=round(20 * math.log10(max(float(np.max(np.abs(audio))), 1e-9)), 2),
            below_mix_db=round(below, 2), near_silent=below > NEAR_SILENT_BELOW_MIX_DB,
        ))
    return SeparationReport(reconstruction_error_db=round(error, 2), stems=tuple(levels))
