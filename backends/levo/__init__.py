"""LeVo 2 (SongGeneration 2): our own port of Tencent's inference code onto torch + transformers 5.

Import ``backends.levo.spec`` for the cheap declaration; the heavy modules load only in ``SPEC.load()``.
"""
