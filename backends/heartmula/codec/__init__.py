"""HeartCodec: audio codes (12.5 Hz, 8 codebooks) to 48 kHz stereo via flow matching and a scalar decoder."""
