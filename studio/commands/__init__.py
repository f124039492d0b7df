"""Subcommands of `python -m studio` (each module exposes ``register(subparsers)``)."""
