#!/usr/bin/env bash
# Installs what robotd needs on a fresh Debian machine. Idempotent: only missing packages are
# installed. As root it runs apt-get itself; otherwise it prints the exact command to run.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also the Python reference tools the test suite uses as oracles,
#                             systemd (systemd-analyze) for the unit-file checks, rt-tests
#                             (cyclictest, the anchor `robotd bench loop` runs side by side) and
#                             g++ with Eigen for the Pinocchio anchor of `robotd bench dynamics`
set -euo pipefail

debs=(pkg-config libopenblas-dev liblapacke-dev libserialport-dev libsystemd-dev libsqlite3-dev python3 python3-pip)
# The test suite checks the systemd units offline (systemd-analyze verify, systemd-sysusers,
# systemd-tmpfiles --root): only --test needs the systemd package. It does not boot anything.
# `robotd bench dynamics` compiles its Pinocchio anchor (Benchmarks/anchors/pinocchio_dynamics.cpp)
# against pin's headers, which need Eigen's: the cmeel packages do not ship them.
if [ "${1:-}" = "--test" ]; then debs+=(systemd rt-tests g++ libeigen3-dev); fi
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv): do not ask apt for them if they already work.
if command -v python3 >/dev/null 2>&1; then
    filtered=()
    for p in "${missing[@]}"; do
        case "$p" in
            python3) ;;
            python3-pip) python3 -m pip --version >/dev/null 2>&1 || filtered+=("$p") ;;
            *) filtered+=("$p") ;;
        esac
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        $cmd
    else
        echo "setup: missing Debian packages. Run as root:" >&2
        echo "  apt-get update && $cmd" >&2
        exit 1
    fi
fi

if [ "${1:-}" = "--test" ]; then
    pip_install() {
        python3 -m pip install --quiet --disable-pip-version-check "$@" ||
            python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
    }
    # Reference implementations used as test oracles: Pinocchio (rigid-body dynamics), MuJoCo
    # (the shipped URDFs must load in it), Crocoddyl (optimal control), safetensors (model files) and
    # the servo vendors' SDKs (dynamixel-sdk, feetech-servo-sdk: servo-bus packets), pyarrow (Parquet
    # files). Crocoddyl 3.2.1 only works with Pinocchio 4.0.0 (4.1.0 imports but computes garbage),
    # hence the version check.
    if ! python3 -c "import os, cmeel, pinocchio, mujoco, numpy, crocoddyl, safetensors, dynamixel_sdk, scservo_sdk, pyarrow; assert pinocchio.__version__ == '4.0.0'; assert os.path.exists(os.path.join(os.path.dirname(list(cmeel.__path__)[0]), 'cmeel.prefix/include/urdfdom_headers/urdf_model/model.h'))" >/dev/null 2>&1; then
        echo "setup: installing Python test oracles (scripts/requirements-test.txt)"
        pip_install -r "$(dirname "$0")/requirements-test.txt"
    fi
    # PyTorch (files saved by torch, scripts/export_policy.py), from the index and wheel cache
    # pip is configured with: the CPU build where the configuration offers it, else PyPI's
    # torch by name. No index is named here: a machine reaches only its configured registries.
    if ! python3 -c "import torch, safetensors.torch" >/dev/null 2>&1; then
        echo "setup: installing PyTorch for the model-file tests"
        pip_install "torch==2.13.0+cpu" || pip_install torch
    fi
fi
