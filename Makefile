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

test: setup-test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: build
	$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/robotd bench dynamics --urdf hardware/robots/sim6/robot.urdf --json

clean:
	rm -rf .build
