#!/usr/bin/env bash
# Set up Song Studio in ./.venv on a fresh machine.
#   bash scripts/setup.sh          the studio
#   bash scripts/setup.sh --dev    the studio plus the test tools
# torch is chosen for the machine: an existing torch is kept; on a CPU-only Linux box the CPU
# build is installed (TORCH_INDEX_URL points pip at a CPU wheel index if PyPI's default would be
# the CUDA build); with an NVIDIA GPU or on macOS (MPS) PyPI's default build is right.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CPU_TORCH=${CPU_TORCH:-torch==2.13.0}
extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"

if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
py=.venv/bin/python
"$py" -m pip install --quiet --upgrade pip

if "$py" -c "import torch" 2>/dev/null; then
  echo "torch $("$py" -c 'import torch; print(torch.__version__)') already installed; keeping it."
elif command -v nvidia-smi >/dev/null 2>&1 || [[ "$(uname -s)" == "Darwin" ]]; then
  "$py" -m pip install --quiet "torch>=2.8"
else
  # No GPU: never pull the multi-gigabyte CUDA build.
  "$py" -m pip install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$CPU_TORCH"
fi

"$py" -m pip install --quiet -e ".${extras}"

# The browser test uses the distribution's Chromium (Playwright's own browser download is never used).
# Only as root with apt-get; elsewhere the test skips and says why.
if [[ -n "$extras" && "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji \
    || echo "could not install chromium; the browser test will be skipped."
fi
echo "Song Studio is installed in .venv ($("$py" -c 'import torch; print("torch", torch.__version__)'))."
