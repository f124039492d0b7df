"""Song Studio: the Hugging Face Space entry point (`python app.py` locally)."""

import studio.gpu  # noqa: F401  (first: on ZeroGPU, `spaces` must patch CUDA before torch loads)
from studio import glibc_heap
from studio.devices import on_zerogpu
from studio.ui import build_app, launch_options, runner

glibc_heap.cap_arenas()  # before the server's threads start: see studio/glibc_heap.py

demo = build_app()

if on_zerogpu():  # load the default model onto cuda now, so spaces packs it (studio.ui.runner)
    runner.preload_for_zerogpu()

if __name__ == "__main__":
    demo.launch(**launch_options(demo))
