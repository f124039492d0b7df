"""Song Studio: the Hugging Face Space entry point (`python app.py` locally)."""

import studio.gpu  # noqa: F401  (first: on ZeroGPU, `spaces` must patch CUDA before torch loads)
from studio import glibc_heap
from studio.ui import build_app, launch_options

glibc_heap.cap_arenas()  # before the server's threads start: see studio/glibc_heap.py

demo = build_app()

if __name__ == "__main__":
    demo.launch(**launch_options(demo))
