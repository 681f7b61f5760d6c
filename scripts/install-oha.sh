#!/usr/bin/env bash
# Install oha (the open-loop HTTP load generator `ccx bench ingest` drives) from crates.io into
# .bin/oha/ (git-ignored), unless that exact version is already there.
#
#   scripts/install-oha.sh            install when missing, then print the binary's path
#
# Environment:
#   OHA_VERSION   crate version to install (default below: the one the bench's parser is tested on)
#   CARGO         the cargo binary (default: cargo on PATH, then ~/.cargo/bin/cargo)
set -euo pipefail

OHA_VERSION=${OHA_VERSION:-1.16.0}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.bin/oha"
BIN="$DEST/bin/oha"

if [[ -x $BIN ]] && [[ $("$BIN" --version 2>/dev/null) == "oha $OHA_VERSION" ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi
CARGO=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
[[ -x $CARGO ]] || { echo "install-oha: cargo not found (install Rust >= 1.88)" >&2; exit 1; }
echo "install-oha: building oha $OHA_VERSION from crates.io into ${DEST#"$ROOT"/} (a few minutes)" >&2
"$CARGO" install oha --version "=$OHA_VERSION" --locked --root "$DEST" --force --quiet >&2
printf '%s\n' "$BIN"
