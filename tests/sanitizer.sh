# The sanitizer settings of the suite, sourced by tests/run.sh and the tool-level tests that run the
# ASan/UBSan build (tests/t_fuzz.sh, tests/t_sanitizer.sh).
#
# - OMPI_MCA_mca_base_component_disable_dlclose=1 keeps MPI's plugins loaded, so leak reports can name them.
# - fast_unwind_on_malloc=0 records full allocation stacks, so that tests/lsan.supp's entries (the leaks of
#   MPI, OpenBLAS, HDF5 and netCDF themselves, none of ours) can match a frame deep in the stack.
# - intercept_tls_get_addr=0: on some kernels and CPUs (seen with kernel 6.18 on an Intel Xeon) LeakSanitizer
#   records a bogus dynamic-TLS range through its __tls_get_addr interceptor and crashes with SIGSEGV while
#   scanning it at exit ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error"), after
#   every test passed. Without the interceptor the dynamic TLS blocks are still scanned as the heap blocks
#   they are; leaks are still found (tests/t_sanitizer.sh plants one and checks that it is).
_san_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS="fast_unwind_on_malloc=0:intercept_tls_get_addr=0:suppressions=$_san_here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# san_run LOG CMD...: runs CMD with its output in LOG and returns its exit code. A sanitizer that crashes
# inside itself is not a leak report: when LeakSanitizer hit a fatal error of its own and printed no leak
# report, CMD runs once more with LeakSanitizer's TLS scan off (use_tls=0), saying so in LOG; a leak
# report, a failed test or a second crash stays a failure.
san_run() {
    local log=$1 rc=0; shift
    "$@" >"$log" 2>&1 || rc=$?
    if [ $rc -ne 0 ] && grep -q 'LeakSanitizer has encountered a fatal error' "$log" &&
        ! grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$log"; then
        echo "san_run: LeakSanitizer crashed inside itself in $1; running it again with use_tls=0" >>"$log"
        rc=0
        LSAN_OPTIONS="$LSAN_OPTIONS:use_tls=0" "$@" >>"$log" 2>&1 || rc=$?
    fi
    return $rc
}
