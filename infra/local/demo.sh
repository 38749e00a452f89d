#!/usr/bin/env bash
# README command 1: installs and starts the local services, builds chainlake, and runs the
# whole pipeline on a fresh anvil with generated traffic, printing the Gold tables.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
bash infra/local/up.sh
cargo build --locked --bin chainlake
"$CARGO_TARGET_DIR/debug/chainlake" demo --no-services "$@"
