# Spack package for innerloop, an example: copy it to a repository of one's own as
# packages/innerloop/package.py and set the url and checksum of a release tarball.
from spack.package import *


class Innerloop(MakefilePackage):
    """Trains small GPT-style models on MPI ranks, records per-rank NetCDF-4 traces of their inner
    workings and aggregates them (il-train, il-sweep, il-aggregate); a C reader for the traces."""

    homepage = "https://example.org/innerloop"
    url = "https://example.org/innerloop/innerloop-0.5.0.tar.gz"

    version("0.5.0", sha256="0000000000000000000000000000000000000000000000000000000000000000")

    depends_on("mpi")
    depends_on("netcdf-c+mpi")
    depends_on("hdf5+mpi")
    depends_on("openblas threads=openmp")
    depends_on("netlib-scalapack")
    depends_on("gsl")
    depends_on("libinih")
    depends_on("cmocka", type="test")
    depends_on("pkgconfig", type="build")

    def edit(self, spec, prefix):
        # scripts/deps.sh installs Debian packages: Spack provides the dependencies instead
        filter_file(r"^\t@scripts/deps\.sh$", "\t@true", "Makefile")

    @property
    def build_targets(self):
        spec = self.spec
        return [
            "CC=" + spec["mpi"].mpicc,
            "ARCH=",  # no -march=native on a build node unlike the compute nodes
            "BLAS_CFLAGS=" + spec["openblas"].headers.include_flags,
            "BLAS_LIBS=" + spec["openblas"].libs.ld_flags,
            "NETCDF_CFLAGS=" + spec["netcdf-c"].headers.include_flags,
            "NETCDF_LIBS=" + spec["netcdf-c"].libs.ld_flags,
            "SCALAPACK_LIBS=" + spec["netlib-scalapack"].libs.ld_flags,
            "all",
        ]

    @property
    def install_targets(self):
        return self.build_targets[:-1] + ["PREFIX=" + self.prefix, "install"]

    def check(self):
        make("unit")
