# The two commands of the README. Both install missing system packages first.
SWIFT ?= swift
CONFIG ?= release

.PHONY: setup setup-test build run run-emulated test bench fuzz fuzz-smoke clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build: setup
	$(SWIFT) build -c $(CONFIG) --product robotd
	$(SWIFT) build -c $(CONFIG) --product robotctl

# OpenBLAS (pthread build) starts its worker pool when it loads, before robotd can ask for one
# thread, and an idle worker spins a while on a core the loop or the planner needs; as in
# systemd/robotd.service, no pool at all.
export OPENBLAS_NUM_THREADS = 1

# The daemon on the simulated arm, in the foreground, logging to stderr; Ctrl-C stops it
# (ramp to hold, driver off, exit 0). robotctl is built next to it (README, "Running the daemon").
run: build
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd run --config configs/sim.yaml

# The daemon on an emulated SO-101 (ARM=koch for the Koch): the bus emulator on a pseudo-terminal
# and the servo-bus driver talking to it, as with the real arm (docs/servo-buses.md §9).
ARM ?= so101
run-emulated: build
	CONFIG=$(CONFIG) scripts/run-emulated.sh $(ARM)

# The suite runs optimised (what the daemon runs: allocation counts are only meaningful there)
# with testable imports enabled.
TEST_FLAGS = -c release -Xswiftc -enable-testing

# The fuzz smoke runs first so that the suite's summary is the last thing `make test` prints.
# The Pinocchio anchor of `bench dynamics` is compiled once (minutes, cached under $TMPDIR) here,
# alone, rather than by the first test that runs it beside the parallel suite's timing-sensitive
# daemon tests; a machine without Pinocchio reports it unavailable and goes on.
test: setup-test
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$$($(SWIFT) build $(TEST_FLAGS) --show-bin-path)/robotd bench dynamics --urdf hardware/robots/sim6/robot.urdf \
		--calls 10 --batches 3 --rounds 1 --json > /dev/null
	$(MAKE) fuzz-smoke
	$(SWIFT) test $(TEST_FLAGS) --skip-build

# libFuzzer + AddressSanitizer targets of the parsers of untrusted input (README "Fuzzing"),
# built from the separate package Fuzz/ into .build-fuzz. `make fuzz` runs each for FUZZ_SECONDS;
# the smoke run in `make test` gives each FUZZ_SMOKE_RUNS inputs (cold build and run: ~2 min).
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_TARGETS ?= jsonrpc urdf config safetensors
export FUZZ_SECONDS FUZZ_SMOKE_RUNS

fuzz:
	SWIFT=$(SWIFT) scripts/fuzz.sh $(FUZZ_TARGETS)

fuzz-smoke:
	SWIFT=$(SWIFT) scripts/fuzz.sh --smoke $(FUZZ_TARGETS)

bench: build
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd bench dynamics --urdf hardware/robots/sim6/robot.urdf --json
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd bench loop --config configs/sim.yaml --rate 1000 --seconds 20 --json

clean:
	rm -rf .build .build-fuzz
