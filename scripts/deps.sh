#!/usr/bin/env bash
# Installs the Debian packages innerloop needs, and only those whose header, library or command is missing.
# What is already there from another source (a cluster's modules, Node.js's own npm, a hand-built MPI) is
# found on the compiler's and the shell's search paths and never reinstalled. Idempotent.
#   DEPS_QUIET=1   no line when nothing is missing
#   CC, BLAS_CFLAGS, BLAS_DIR, NETCDF_CFLAGS: the same variables the Makefile takes, so that a header or
#   library on a module's path counts as present.
set -uo pipefail

cc=${CC:-cc}
# netcdf_par.h includes mpi.h, which only the MPI compiler wrapper finds
command -v mpicc >/dev/null 2>&1 && cc=${CC:-mpicc}
blas_cflags=${BLAS_CFLAGS:--I/usr/include/x86_64-linux-gnu/openblas-openmp}
blas_dir=${BLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
netcdf_cflags=${NETCDF_CFLAGS:--I/usr/lib/x86_64-linux-gnu/netcdf/mpi/include}

# What must be there, and the package that brings it: "kind name package". A command is looked up on PATH
# (or, with a slash, tested as a file); a header is preprocessed with the build's include flags; a library
# is linked with the build's library path (PCRE2 only so: pcre2.h refuses to be included without
# PCRE2_CODE_UNIT_WIDTH, and the link name comes in the same package); a python module is imported by
# /usr/bin/python3 (the tests read the outputs with xarray, as users do).
requirements=(
    "command cc build-essential"
    "command make build-essential"
    "command pkg-config pkg-config"
    "header zlib.h zlib1g-dev"
    "library pcre2-8 libpcre2-dev"
    "header json-c/json.h libjson-c-dev"
    "library json-c libjson-c-dev"
    "header zstd.h libzstd-dev"
    "command zstd zstd"
    "header cblas.h libopenblas-openmp-dev"
    "library openblas libopenblas-openmp-dev"
    "header ini.h libinih-dev"
    "header cmocka.h libcmocka-dev"
    "header gsl/gsl_cdf.h libgsl-dev"
    "command mpicc libopenmpi-dev"
    "command mpirun openmpi-bin"
    "library scalapack-openmpi libscalapack-openmpi-dev"
    "header netcdf.h libnetcdf-dev"
    "header netcdf_par.h libnetcdf-mpi-dev"
    "library netcdf_mpi libnetcdf-mpi-dev"
    "header hdf5/openmpi/hdf5.h libhdf5-openmpi-dev"
    "library hdf5_openmpi libhdf5-openmpi-dev"
    "command ncdump netcdf-bin"
    "command ncrcat nco"
    "command sbatch slurm-wlm"
    "command slurmctld slurm-wlm"
    "command munged munge"
    "command gnuplot gnuplot-nox"
    "command npm npm"
    "command /usr/bin/time time"
    "command strace strace"
    "python xarray python3-xarray"
    "python netCDF4 python3-netcdf4"
    "python torch python3-torch"
    "python google.protobuf python3-protobuf"
    "command protoc protobuf-compiler"
    "command tmux tmux"
)

# Debian's python3: the packages install into it, whatever other python3 comes first on PATH (pyenv, conda)
have_python() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
have_command() { if [[ $1 == */* ]]; then [ -x "$1" ]; else command -v "$1" >/dev/null 2>&1; fi; }
# shellcheck disable=SC2086 # the flags are lists of words
have_header() { echo "#include <$1>" | "$cc" $blas_cflags $netcdf_cflags -E -x c - >/dev/null 2>&1; }
have_library() {
    local dir
    dir=$(mktemp -d) || return 1
    echo 'int main(void) { return 0; }' >"$dir/t.c"
    "$cc" "$dir/t.c" -o "$dir/t" -L"$blas_dir" -l"$1" >/dev/null 2>&1
    local rc=$?
    rm -rf "$dir"
    return $rc
}

missing=() packages=()
for r in "${requirements[@]}"; do
    read -r kind name package <<<"$r"
    "have_$kind" "$name" && continue
    missing+=("$kind $name")
    [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    [ -n "${DEPS_QUIET:-}" ] || echo "deps: all libraries and tools present, nothing to install"
    exit 0
fi
echo "deps: missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "deps: cannot install (needs root and apt-get); install these Debian packages: ${packages[*]}" >&2
    exit 1
fi
echo "deps: installing Debian packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get update -qq >"$log" 2>&1 ||
   ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$log" 2>&1; then
    echo "deps: apt-get failed installing: ${packages[*]}" >&2
    grep -E '^(E|W): ' "$log" >&2 || tail -n 20 "$log" >&2
    exit 1
fi
