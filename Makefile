# The two commands of the README. Both install missing system packages first.
SWIFT ?= swift
CONFIG ?= release

.PHONY: setup setup-test build run test bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build: setup
	$(SWIFT) build -c $(CONFIG) --product robotd

# Until the daemon exists: a short simulated-arm rollout that prints the arm's state.
run: build
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd sim --urdf hardware/robots/sim6/robot.urdf --seconds 2

# The suite runs optimised (what the daemon runs: allocation counts are only meaningful there)
# with testable imports enabled.
TEST_FLAGS = -c release -Xswiftc -enable-testing

test: setup-test
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

bench: build
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd bench dynamics --urdf hardware/robots/sim6/robot.urdf --json

clean:
	rm -rf .build
