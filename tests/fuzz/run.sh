#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang and runs each
# for a short time over a scratch copy of its seed corpus (tests/fuzz/corpus/
# <name without fuzz_>/). Exits non-zero when a target crashes, leaks or
# trips a sanitizer; the reproducer is left in the build directory.
# Usage: tests/fuzz/run.sh [seconds per target, default 30]
# Env: OSS_FUZZ_BUILD_DIR (default /tmp/build-fuzz), CC (default clang).
set -euo pipefail

secs=${1:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${OSS_FUZZ_BUILD_DIR:-/tmp/build-fuzz}
cc=${CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang)" >&2; exit 1; }

# Instrument the libraries too (fuzzer-no-link), not only the target files,
# so that libFuzzer sees coverage inside our decoders.
CC=$cc cmake -S "$src" -B "$build" -DOSS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }

targets=()
for f in "$src"/tests/fuzz/fuzz_*.c; do
    targets+=("$(basename "$f" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets" >&2; exit 1; }
cmake --build "$build" -j2 --target "${targets[@]}"

status=0
for t in "${targets[@]}"; do
    exe=$(find "$build" -type f -name "$t" -perm -u+x | head -n1)
    [ -n "$exe" ] || { echo "fuzz: $t was not built" >&2; status=1; continue; }
    corpus="$build/corpus-$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    seeds="$src/tests/fuzz/corpus/${t#fuzz_}"
    [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $t for ${secs}s"
    if (cd "$build" && ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$secs" \
            -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" \
            >"$build/$t.log" 2>&1); then
        grep -E "^stat::number_of_executed_units|DONE" "$build/$t.log" | tail -n2
    else
        echo "fuzz: $t FAILED, see $build/$t.log (reproducer crash-* in $build)" >&2
        tail -n 40 "$build/$t.log" >&2
        status=1
    fi
done
exit $status
