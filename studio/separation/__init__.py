"""Stems for any song: a real separation model (Demucs HTDemucs) run as its own stage.

``catalog`` says what can be asked for (2, 4 or 6 stems) as data; ``loader`` reads the published
weights from a folder (or a Hub id fetched before the GPU is held); ``run`` splits audio on the
chosen device; ``files`` and ``pack`` write what a producer takes away; ``flow`` is the one
function the CLI, the API and the UI call.
"""
