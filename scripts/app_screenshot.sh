#!/usr/bin/env bash
# Regenerate docs/app/studio.png: the e2e browser test keeps its final editor screenshot.
# The result in it comes from the tests' deterministic pipeline double, not a real model.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
LAYERCRAFT_STUDIO_SCREENSHOT="$PWD/docs/app/studio.png" "$PY" -m pytest tests/app/test_studio_e2e.py -q -k compose
