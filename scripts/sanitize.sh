#!/usr/bin/env bash
# Build the C core and the Python extension with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DNNFAST_SANITIZE=ON: -fsanitize=address,undefined) and run the tests under them:
#   1. the C test program tests/c/test_nncore, with 1 and 2 threads;
#   2. the pytest suite against the sanitized extension.
#
# Usage:  bash scripts/sanitize.sh [pytest arguments]     (default: the whole suite, tests/)
#         bash scripts/sanitize.sh tests/test_hardening_inputs.py -x
#
# How the Python run works: python3 itself is not built with ASan, so the ASan runtime must be
# the first library loaded. The script sets LD_PRELOAD to the compiler's libasan.so (found with
# `$CC -print-file-name=libasan.so`), followed by libstdc++ (C++ extensions such as
# matplotlib's throw exceptions, and ASan's __cxa_throw interceptor needs the real one loaded
# at start-up), and ASAN_OPTIONS=detect_leaks=0 (CPython keeps interned objects and arenas
# until exit, which LeakSanitizer would report). UBSan is linked into the extension and halts
# on the first finding (halt_on_error=1), so any undefined behaviour fails the run. pytest
# captures the tests' stderr, so the reports go to files ($build/sanitizer-report.*), printed
# at the end; any report fails the run. The package is copied with the sanitized _core into the build folder and put first
# on PYTHONPATH, so the extension in python/nnfast/ is left untouched. Four files are
# skipped: tests/test_c_core.py compiles an unsanitized copy of the C program that step 1
# already ran sanitized; tests/test_packaging.py builds and installs wheels (compilers and pip
# would run with libasan preloaded); tests/test_docs.py builds the documentation;
# tests/test_memory.py measures the process's memory, which ASan's quarantine (freed blocks
# are held back to catch use-after-free) and its own allocator change by design.
#
# Needs: cmake, ninja (or make), a C compiler with -fsanitize (gcc or clang), Cython (the
# extension is built here, outside pip's isolated build) and the test extra.
# Environment: NNFAST_SANITIZE_BUILD (build folder, default build-sanitize/), PYTHON, CC.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${NNFAST_SANITIZE_BUILD:-$root/build-sanitize}"
python="${PYTHON:-python3}"
cc="${CC:-cc}"
if ! "$python" -c "import Cython" 2>/dev/null; then
    echo "Cython is needed to build the extension here: $python -m pip install cython" >&2
    exit 1
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
echo "== configure and build with -DNNFAST_SANITIZE=ON in $build"
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DNNFAST_SANITIZE=ON -DNNFAST_C_TESTS=ON -DPython_EXECUTABLE="$(command -v "$python")" \
      >/dev/null
cmake --build "$build"

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

echo "== C test program under ASan + UBSan"
for threads in 1 2; do
    NNFAST_NUM_THREADS=$threads "$build/test_nncore"
done

echo "== pytest under ASan + UBSan"
libasan="$("$cc" -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
    echo "libasan.so not found (\`$cc -print-file-name=libasan.so\` gave '$libasan')" >&2
    exit 1
fi
preload="$libasan"
libstdcxx="$("$cc" -print-file-name=libstdc++.so)"
[ -e "$libstdcxx" ] && preload="$preload $libstdcxx"
reports="$build/sanitizer-report"
rm -f "$reports".*
pkg="$build/python"
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r "$root/python/nnfast" "$pkg/"
rm -f "$pkg"/nnfast/_core*.so
cp "$build"/_core*.so "$pkg/nnfast/"
cd "$root"
[ $# -eq 0 ] && set -- tests
status=0
LD_PRELOAD="$preload" PYTHONPATH="$pkg" ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports" \
    UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports" "$python" -m pytest -q -p no:cacheprovider \
    --ignore tests/test_c_core.py --ignore tests/test_packaging.py --ignore tests/test_docs.py \
    --ignore tests/test_memory.py "$@" || status=$?
if ls "$reports".* >/dev/null 2>&1; then
    echo "== sanitizer reports" >&2
    cat "$reports".* >&2
    exit 1
fi
exit "$status"
