#!/usr/bin/env bash
# The test command (README, .ci/run): install on a fresh machine, lint, then run the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
ruff check .
lint-imports --no-cache  # the house rules of DESIGN.md §2 (.importlinter)
python -m pytest -q tests
