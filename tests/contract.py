"""The contract every backend must pass. A backend's test module subclasses ``BackendContract``
and provides the ``backend`` fixture (a loaded Backend, tiny weights) and ``duration``."""

from __future__ import annotations

import numpy as np
import pytest

from backends.base import Backend, RenderJob, Take
from studio.errors import validate
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent


class BackendContract:
    style = "upbeat synth pop, bright female vocals"
    lyrics = ""  # subclasses give lyrics in their dialect
    # Diffusion renders exactly the asked length; autoregressive models may stop earlier on their
    # own end-of-song token, so for them the duration is a ceiling.
    exact_length = True

    @pytest.fixture
    def duration(self) -> float:
        raise NotImplementedError

    def job(self, backend: Backend, duration: float, seeds: list[int], **options: object) -> RenderJob:
        return RenderJob(
            style=self.style,
            lyrics=self.lyrics,
            instrumental=not self.lyrics,
            duration_s=duration,
            seeds=seeds,
            options=validate(backend.options, options),
        )

    def render(self, backend: Backend, duration: float, seeds: list[int], **kw) -> list[Take]:
        return backend.render(self.job(backend, duration, seeds), **kw)

    def test_length_and_channels(self, backend: Backend, duration: float) -> None:
        caps = backend.capabilities
        (take,) = self.render(backend, duration, [1])
        assert take.sample_rate == caps.sample_rate
        want = round(duration * caps.sample_rate)
        assert take.audio.shape[0] == caps.channels
        if self.exact_length:
            assert take.audio.shape[-1] == want
        else:
            assert 0 < take.audio.shape[-1] <= want
        assert take.audio.dtype == np.float32
        assert np.isfinite(take.audio).all()
        assert np.abs(take.audio).max() <= 1.0 and np.abs(take.audio).max() > 0

    def test_same_seed_same_audio(self, backend: Backend, duration: float) -> None:
        a = self.render(backend, duration, [7])[0].audio
        b = self.render(backend, duration, [7])[0].audio
        np.testing.assert_array_equal(a, b)

    def test_different_seeds_differ(self, backend: Backend, duration: float) -> None:
        a, b = self.render(backend, duration, [7, 8])
        assert a.seed == 7 and b.seed == 8
        n = min(a.audio.shape[-1], b.audio.shape[-1])  # autoregressive takes may end at different times
        assert a.audio.shape != b.audio.shape or np.abs(a.audio[..., :n] - b.audio[..., :n]).max() > 1e-3

    def test_unknown_option_rejected(self, backend: Backend) -> None:
        with pytest.raises(StudioError, match="unknown option `not_an_option`"):
            validate(backend.options, {"not_an_option": 1}, owner=backend.capabilities.display_name)

    def test_progress_reports_and_can_cancel(self, backend: Backend, duration: float) -> None:
        events: list[ProgressEvent] = []
        self.render(backend, duration, [1], progress=events.append)
        assert events and any(e.total and e.done == e.total for e in events)

        def stop(event: ProgressEvent) -> None:
            if event.done >= 1:
                raise Cancelled("stopped by the test")

        with pytest.raises(Cancelled):
            self.render(backend, duration, [1], progress=stop)
