#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (a separate package, so the sanitizers never touch the
# main build) and runs each one.
#
#   scripts/fuzz.sh [--smoke] [TARGET…]
#
# FUZZ_SECONDS (default 60) per target; --smoke runs each target for FUZZ_SMOKE_RUNS executions
# (default 20000) instead, which is what `make test` does. The checked-in seeds
# (Fuzz/corpus/<target>) are copied into a working corpus under .build-fuzz/corpus, so inputs the
# fuzzer finds never land in the repository; Fuzz/dict/<target>.dict gives the mutator the
# format's tokens. Crashes, leaks and timeouts are written to .build-fuzz/findings/<target>/
# (not artifacts/, which SwiftPM clears in its scratch path) and fail the run.
#
# Why the build flags look as they do (Swift 6.3.1): SwiftPM's `--sanitize fuzzer --sanitize
# address` hands the driver two -sanitize= options and only the last one takes effect, so the
# Swift code gets no coverage instrumentation; a single `-Xswiftc -sanitize=fuzzer,address` does.
# `--sanitize fuzzer` is still needed so SwiftPM builds the executables without their own `main`
# (libFuzzer's runs), and the C code (libyaml, the vector kernels) is instrumented through -Xcc.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SMOKE_RUNS=${FUZZ_SMOKE_RUNS:-20000}
smoke=0
if [[ ${1:-} == --smoke ]]; then smoke=1; shift; fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=(jsonrpc urdf config safetensors); fi

product() {
    case $1 in
        jsonrpc) echo FuzzJSONRPC ;;
        urdf) echo FuzzURDF ;;
        config) echo FuzzConfig ;;
        safetensors) echo FuzzSafeTensors ;;
        *) echo "unknown fuzz target '$1' (jsonrpc, urdf, config, safetensors)" >&2; exit 2 ;;
    esac
}

# Largest input each target is given: above the seeds, small enough to stay fast.
max_len() {
    case $1 in
        urdf | config) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

build=(--package-path Fuzz --scratch-path .build-fuzz -c release --sanitize fuzzer
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
mkdir -p .build-fuzz
for target in "${targets[@]}"; do
    if ! "$SWIFT" build "${build[@]}" --product "$(product "$target")" > .build-fuzz/build.log 2>&1; then
        grep -v "Cannot export local symbol" .build-fuzz/build.log | tail -30 >&2
        echo "fuzz build of $target failed" >&2
        exit 1
    fi
done

status=0
for target in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$target
    artifacts=.build-fuzz/findings/$target/
    mkdir -p "$corpus" "$artifacts"
    cp -n Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    if [[ $smoke -eq 1 ]]; then budget=(-runs="$SMOKE_RUNS"); else budget=(-max_total_time="$SECONDS_PER_TARGET"); fi
    echo "== fuzz $target: ${budget[*]}"
    # One worker: the machines this runs on are shared. -timeout flags any input slower than 10 s.
    dict=()
    if [[ -f Fuzz/dict/$target.dict ]]; then dict=(-dict="Fuzz/dict/$target.dict"); fi
    rc=0
    ASAN_OPTIONS=detect_leaks=1 ".build-fuzz/release/$(product "$target")" "${budget[@]}" \
        -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$artifacts" "$corpus" > ".build-fuzz/$target.log" 2>&1 || rc=$?
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Fatal error|artifact)" \
        ".build-fuzz/$target.log" || true
    if [[ $rc -ne 0 ]] || [[ -n $(ls -A "$artifacts") ]]; then
        echo "fuzz $target FAILED (exit $rc): see .build-fuzz/$target.log and $artifacts" >&2
        status=1
    fi
done
exit $status
