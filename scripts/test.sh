#!/usr/bin/env bash
# Sets up a fresh machine and runs every test. Tests that need ptrace or
# strace skip on a machine without them, except under CI=true, where they
# must run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build
