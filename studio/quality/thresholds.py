"""Every threshold the take checks use, stated once. The README's "Take checks" table quotes these
values; change them here and there together.

Why each value:
- Tempo: beat trackers read a steady click within ~1-2 % (librosa's ``beat_track`` quantises tempo
  to its onset-envelope frame rate, ~0.7 % at 120 BPM with a 512-sample hop at 22.05 kHz), so 4 %
  marks a song whose tempo a listener would notice as different from the request.
- Half/double time: the most common tempo error of both models and trackers is a factor of 2; it is
  reported as such (not as "wrong tempo"), because the song may still sit on the requested grid.
- Drift: a band drifts audibly once the first and last minute differ by more than ~3 %.
- Key: the Krumhansl-Kessler profile match is reliable to the tonic and mode on tonal pop; the
  relative major/minor shares every note, so it is reported apart from a plainly wrong key.
- True peak: the studio masters to -1 dBTP (studio.audio.mastering); a raw take above it will be
  limited, and one above 0 dBTP clips on any converter.
- Clipping: three or more consecutive samples at full scale are the usual definition of a clipped
  run (one full-scale sample can be a legitimate peak).
- Silence: quieter than 50 dB under the song's loudest passage; two seconds of it before the
  first note, or four after the last, feel like a mistake rather than an intro or a ring-out.
- Abrupt ending: the last quarter-second still within 15 dB of the song's loud level means the
  music stops mid-phrase instead of fading or ringing out.
- Duration: models that stop by themselves may end early; more than 10 % (and at least 3 s)
  away from the request is worth a look.
- Lyrics: a line is *heard* when at least 80 % of its words (characters for Chinese/Japanese/Korean)
  are found in the transcript in order, *partly heard* from 40 %, else *missing*. These ratios
  depend on the ASR model: a weaker model hears fewer words of the same take.
"""

from __future__ import annotations

TEMPO_TOLERANCE = 0.04  # fraction of the requested BPM
TEMPO_DRIFT_MAX = 0.03  # fraction between the first and the last window
TEMPO_DRIFT_WINDOW_S = 60.0  # "the first and the last minute"
TEMPO_DRIFT_MIN_SONG_S = 40.0  # shorter songs are measured in halves, below this not at all

CLIP_LEVEL = 0.999  # |sample| at or above this is at full scale
CLIP_RUN = 3  # consecutive full-scale samples that make one clipped run
CLIPPED_RUNS_MAX = 0  # any clipped run is flagged
TRUE_PEAK_MAX_DBTP = -1.0

SILENCE_BELOW_DB = 50.0  # under the loudest 100 ms frame
HEAD_SILENCE_MAX_S = 2.0
TAIL_SILENCE_MAX_S = 4.0
ABRUPT_END_WINDOW_S = 0.25
ABRUPT_END_WITHIN_DB = 15.0  # the last window's level against the song's 90th-percentile level

DURATION_TOLERANCE = 0.10  # fraction of the requested duration
DURATION_TOLERANCE_MIN_S = 3.0

LINE_HEARD = 0.80  # share of a line's words found in order
LINE_PARTLY = 0.40
# A stretch of transcript this long (words or CJK characters) matching no lyric line is reported as extra.
EXTRA_MIN_TOKENS = 4

# Ranking (best first): lyric error first, then how many DSP checks failed.
ANALYSIS_RATE = 22_050  # librosa's default rate; tempo and key need nothing above 11 kHz
