#!/usr/bin/env bash
# Runs the whole test suite (unit, integration, docs). The README's test command.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --all-targets -- --test-threads="${GSUP_TEST_THREADS:-4}"
