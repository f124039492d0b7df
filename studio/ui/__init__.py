"""The Gradio interface: the only package that imports gradio."""

from studio.ui.app import build_app, launch_options

__all__ = ["build_app", "launch_options"]
