#!/usr/bin/env bash
# Installs the Debian packages innerloop needs, unless what it needs is already there (for example from
# a cluster's modules): then it says so and installs nothing. Idempotent.
set -euo pipefail

packages=(build-essential pkg-config zlib1g-dev libopenblas-openmp-dev libopenblas-dev libinih-dev libcmocka-dev
          openmpi-bin libopenmpi-dev libscalapack-openmpi-dev libnetcdf-dev libnetcdf-mpi-dev netcdf-bin
          slurm-wlm munge gnuplot-nox nco npm time)

missing=()
have_header() { echo "#include <$1>" | ${CC:-gcc} ${BLAS_CFLAGS:--I/usr/include/x86_64-linux-gnu/openblas-openmp} -E -x c - >/dev/null 2>&1; }
for h in cblas.h ini.h cmocka.h zlib.h; do have_header "$h" || missing+=("header $h"); done
for c in mpicc mpirun ncdump gnuplot sbatch munged npm; do command -v "$c" >/dev/null || missing+=("command $c"); done
[ -x /usr/bin/time ] || missing+=("command /usr/bin/time")

if [ ${#missing[@]} -eq 0 ]; then
    [ -n "${DEPS_QUIET:-}" ] || echo "deps: all libraries and tools present, nothing to install"
    exit 0
fi
echo "deps: missing ${missing[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "deps: cannot install (needs root and apt-get); install: ${packages[*]}" >&2
    exit 1
fi
echo "deps: installing Debian packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
