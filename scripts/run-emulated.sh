#!/usr/bin/env bash
# The daemon on an emulated servo-bus arm, no hardware: `robotd emulate --arm ARM` answers as the
# arm's servos on a pseudo-terminal linked at ./run/ARM.tty, and `robotd run` drives it through the
# same Feetech/Dynamixel driver as the real arm, with configs/ARM-emulated.yaml.
# Usage: scripts/run-emulated.sh so101|koch   (make run-emulated ARM=so101). Ctrl-C stops both.
set -euo pipefail
arm="${1:-so101}"
case "$arm" in so101|koch) ;; *) echo "usage: $0 so101|koch" >&2; exit 64 ;; esac
bin="${ROBOTD_BIN:-$(swift build -c "${CONFIG:-release}" --show-bin-path)}"
mkdir -p run
"$bin/robotd" emulate --arm "$arm" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null || true' EXIT
# The link appears once the emulator serves.
for _ in $(seq 1 100); do [ -e "run/$arm.tty" ] && break; sleep 0.05; done
[ -e "run/$arm.tty" ] || { echo "$0: the emulator did not create run/$arm.tty" >&2; exit 1; }
"$bin/robotd" run --config "configs/$arm-emulated.yaml"
