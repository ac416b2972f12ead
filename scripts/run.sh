#!/usr/bin/env bash
# Installs rjcoach if needed, then runs the `rjcoach` command with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/rjcoach "$@"
