"""HeartMuLa 3B (the studio's alternate model): our own port of the LM and HeartCodec.

Only :mod:`backends.heartmula.spec` is cheap to import; everything else imports torch.
"""
