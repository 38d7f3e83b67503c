#!/usr/bin/env bash
# The run command: installs missing tools, builds cnsctl (release) and bundles the embedded
# example recipe (EKS, H100, Ubuntu, training) into ./bundle with the script deployer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release
./target/release/cnsctl plugin list
./target/release/cnsctl bundle --output bundle --force "$@"
echo "==> done: see bundle/README.md"
