-- Lmod module file for innerloop installed with `make install PREFIX=/opt/innerloop/0.5.0`: put it at
-- MODULEPATH/innerloop/0.5.0.lua and edit `prefix` and the modules it was built with.
help([[innerloop: trains small GPT-style models, records per-rank NetCDF traces, aggregates them.
Tools: il-train, il-sweep, il-aggregate, il-prepare, il-eval, il-ckpt, il-bench.
Own programs: cc mine.c $(pkg-config --cflags --libs innerloop)]])
whatis("Name: innerloop")
whatis("Version: 0.5.0")
whatis("Description: GPT training traces and their aggregation (MPI, NetCDF-4)")

-- the MPI, NetCDF and BLAS the tools were built against; the names are the site's
depends_on("openmpi")
depends_on("netcdf-c")
depends_on("openblas")

local prefix = "/opt/innerloop/0.5.0"
prepend_path("PATH", pathJoin(prefix, "bin"))
prepend_path("CPATH", pathJoin(prefix, "include"))
prepend_path("LIBRARY_PATH", pathJoin(prefix, "lib"))
prepend_path("PKG_CONFIG_PATH", pathJoin(prefix, "lib/pkgconfig"))
-- job templates, example sweep specs and plot scripts; with it set, jobs/train.sbatch runs the installed
-- il-train: sbatch $INNERLOOP_SHARE/jobs/train.sbatch my-run.ini
setenv("INNERLOOP_SHARE", pathJoin(prefix, "share/innerloop"))
