"""The ground: the plain vocabulary every layer of the studio and every backend shares.

Errors a person can act on (:mod:`studio.ground.errors`), progress events (:mod:`studio.ground.progress`)
and the words for devices, lyric dialects and request fields (:mod:`studio.ground.vocabulary`). Nothing
here imports from ``studio`` or ``backends`` (tests/test_layers.py checks it), so any module may import it
without pulling in a layer above; importing it costs no third-party import.
"""
