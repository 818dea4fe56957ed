# innerloop build. `make demo` runs the main job, `make test` the test suite; both install what they need.
# Four libraries, one per folder group, each header beside its sources and included by its folder
# ("core/err.h", "analysis/claims.h"):
#   libinnerloop.a  src/core, src/model, src/data, src/trace, src/run: the trainer and its data
#   libsweep.a      sweep/: sweep specs, Slurm submission and state, local runs
#   libanalysis.a   analysis/: the aggregation stage
#   libfixtures.a   tests/fixtures/: the synthetic trace writer and the file mutator of the tests and the
#                   benchmark, whose mains tests/fixtures/tools/NAME.c are built as build/bin/il-NAME
# Each src/tools/NAME.c is a thin main built as build/bin/il-NAME; each tests/test_NAME.c is a cmocka
# suite built as build/tests/test_NAME.

BUILD    ?= build
CC       = mpicc
ARCH     ?= -march=native
OPT      ?= -O3
# OpenBLAS's OpenMP build: inside our own OpenMP regions it runs single-threaded, so kernels parallel over
# (batch, head) never oversubscribe the cores. Override BLAS_CFLAGS/BLAS_LIBS on a cluster with modules.
BLAS_DIR    ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_CFLAGS ?= -I/usr/include/x86_64-linux-gnu/openblas-openmp
# DT_RPATH (not RUNPATH) so that libraries we load, ScaLAPACK among them, also find this BLAS first.
BLAS_LIBS   ?= -L$(BLAS_DIR) -Wl,--disable-new-dtags,-rpath,$(BLAS_DIR) -lopenblas
# NetCDF's MPI build (Debian keeps its headers off the default path; pkg-config --cflags netcdf-mpi omits
# them) and ScaLAPACK. On a cluster with modules, set these from the modules' variables.
NETCDF_CFLAGS  ?= -I/usr/lib/x86_64-linux-gnu/netcdf/mpi/include
NETCDF_LIBS    ?= -lnetcdf_mpi
SCALAPACK_LIBS ?= -lscalapack-openmpi
SAN      ?=
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra $(OPT) $(ARCH) -g -fopenmp -fno-math-errno \
            -I. -Isrc $(BLAS_CFLAGS) $(NETCDF_CFLAGS) $(SAN) -MMD -MP
LDLIBS   += $(SCALAPACK_LIBS) $(NETCDF_LIBS) -lgsl $(BLAS_LIBS) -linih -lz -lm -fopenmp $(SAN)

obj       = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB       := $(BUILD)/libinnerloop.a
SWEEP_LIB := $(BUILD)/libsweep.a
AGG_LIB   := $(BUILD)/libanalysis.a
FIX_LIB   := $(BUILD)/libfixtures.a
# dependents before what they depend on, as the static linker reads them
ALL_LIBS  := $(FIX_LIB) $(AGG_LIB) $(SWEEP_LIB) $(LIB)
TOOLS     := $(patsubst %.c,$(BUILD)/bin/il-%,$(notdir $(wildcard src/tools/*.c tests/fixtures/tools/*.c)))
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: all deps test test-cluster unit asan bench bench-aggregate demo results corpus slurm-up slurm-down clean
.SECONDARY:
all: $(TOOLS) $(TESTS)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(call obj,$(wildcard src/core/*.c src/model/*.c src/data/*.c src/trace/*.c src/run/*.c))
$(SWEEP_LIB): $(call obj,$(wildcard sweep/*.c))
$(AGG_LIB): $(call obj,$(wildcard analysis/*.c))
$(FIX_LIB): $(call obj,$(wildcard tests/fixtures/*.c))
$(ALL_LIBS):
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/il-%: $(BUILD)/obj/src/tools/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/bin/il-%: $(BUILD)/obj/tests/fixtures/tools/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

ASAN_FLAGS = BUILD=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

# The whole suite: unit and tool-level tests, then the unit tests again under ASan and UBSan.
test: all
	$(MAKE) --no-print-directory $(ASAN_FLAGS) all
	tests/run.sh $(BUILD) build/asan:unit

# innerloop on a private Slurm of 2 nodes on this machine (tests/t_cluster.sh: srun --mpi=pmix and mpirun
# across nodes, a sweep over both, a requeue onto the other node; about 3 minutes, as root).
test-cluster: all
	BUILD=$(BUILD) bash tests/t_cluster.sh

# Unit tests only, in this build.
unit: all
	tests/run.sh $(BUILD):unit

# Unit tests under ASan and UBSan only.
asan:
	$(MAKE) --no-print-directory $(ASAN_FLAGS) unit

bench: $(TOOLS)
	$(BUILD)/bin/il-bench
	$(BUILD)/bin/il-bench --trace
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n 2 --oversubscribe $(BUILD)/bin/il-bench --scaling

# Aggregation benchmark (scripts/bench-aggregate.sh): 1,000 synthetic finished runs x 2 ranks x 200 trace
# steps (generated once into $(BENCH_AGG)/runs), aggregated on 1 and on 2 MPI ranks against the read floor.
BENCH_AGG ?= $(BUILD)/bench-aggregate
bench-aggregate: $(TOOLS)
	BENCH_AGG=$(BENCH_AGG) scripts/bench-aggregate.sh $(BUILD)

# The main job: prepare the Brown Corpus, run the demo sweep on a private Slurm (LOCAL=1: with mpirun
# here), aggregate, and print the runs table, the verdicts on the hypotheses and the figures.
demo: all corpus
	DEMO_MODE=$(if $(LOCAL),local,slurm) scripts/demo.sh $(BUILD)/bin

# The research sweep behind docs/results.md: about an hour on 2 cores (jobs/examples/science.ini).
results: $(TOOLS) corpus
	scripts/results.sh $(BUILD)/bin

corpus: $(BUILD)/bin/il-prepare $(BUILD)/bin/il-eval
	scripts/corpus.sh $(BUILD)

# A private single-node Slurm in $(BUILD)/slurm for trying sweeps (docs/sweeps.md); needs root.
slurm-up:
	jobs/slurm-local.sh start $(BUILD)/slurm
slurm-down:
	jobs/slurm-local.sh stop $(BUILD)/slurm

# The commit the binaries are built from goes into every run's provenance (runlog.c); the stamp file
# changes only when the commit (or its dirty state) does, so that only then runlog.o is rebuilt.
GIT_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(BUILD)/obj/src/core/runlog.o: CFLAGS += -DIL_GIT_COMMIT='"$(GIT_COMMIT)"'
$(BUILD)/obj/src/core/runlog.o: $(BUILD)/git-commit
$(BUILD)/git-commit: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_COMMIT)' | cmp -s - $@ || echo '$(GIT_COMMIT)' >$@
.PHONY: FORCE

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
