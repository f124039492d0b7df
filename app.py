"""Song Studio: the Hugging Face Space entry point (`python app.py` locally)."""

import studio.gpu  # noqa: F401  (first: on ZeroGPU, `spaces` must patch CUDA before torch loads)
from studio.ui import build_app, launch_options

demo = build_app()

if __name__ == "__main__":
    demo.launch(**launch_options(demo))
