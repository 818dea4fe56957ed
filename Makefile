# innerloop build. `make demo` runs the main job, `make test` the test suite; both install what they need.
# Four libraries, one per folder group, each header beside its sources; one include root: an #include names
# its file from include/ (the public headers, "innerloop/schema.h"), src/ ("core/err.h") or the top
# ("analysis/claims.h"):
#   libinnerloop.a  src/core, src/model, src/data, src/trace, src/run: the trainer and its data
#   libsweep.a      src/sweep/: sweep specs, Slurm submission and state, local runs
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
# HDF5's MPI build, under netCDF's: il-aggregate copies summary.nc's compressed chunks with it (sumreuse.h)
HDF5_CFLAGS ?= -I/usr/include/hdf5/openmpi
HDF5_LIBS   ?= -lhdf5_openmpi
SAN      ?=
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra $(OPT) $(ARCH) -g -fopenmp -fno-math-errno \
            -Iinclude -Isrc -I. $(BLAS_CFLAGS) $(NETCDF_CFLAGS) $(HDF5_CFLAGS) $(SAN) -MMD -MP
LDLIBS   += $(SCALAPACK_LIBS) $(NETCDF_LIBS) $(HDF5_LIBS) -lgsl $(BLAS_LIBS) -linih -lpcre2-8 -ljson-c -lz -lzstd -lm -fopenmp $(SAN)

obj       = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB       := $(BUILD)/libinnerloop.a
SWEEP_LIB := $(BUILD)/libsweep.a
AGG_LIB   := $(BUILD)/libanalysis.a
FIX_LIB   := $(BUILD)/libfixtures.a
INST_LIB  := $(BUILD)/install/libinnerloop.a
# dependents before what they depend on, as the static linker reads them
ALL_LIBS  := $(FIX_LIB) $(AGG_LIB) $(SWEEP_LIB) $(LIB)
TOOLS     := $(patsubst %.c,$(BUILD)/bin/il-%,$(notdir $(wildcard src/tools/*.c tests/fixtures/tools/*.c)))
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: install uninstall all deps test test-cluster unit asan bench bench-aggregate bench-shard-rss bench-prepare demo results results-pretrained corpus slurm-up slurm-down clean
.SECONDARY:
all: $(TOOLS) $(TESTS)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

LIB_OBJS  := $(call obj,$(wildcard src/core/*.c src/model/*.c src/data/*.c src/trace/*.c src/run/*.c))
AGG_OBJS  := $(call obj,$(wildcard analysis/*.c))
$(LIB): $(LIB_OBJS)
$(SWEEP_LIB): $(call obj,$(wildcard src/sweep/*.c))
$(AGG_LIB): $(AGG_OBJS)
$(FIX_LIB): $(call obj,$(wildcard tests/fixtures/*.c))
# The installed library: the public reader (analysis/reader.c) with what it stands on, in one archive.
$(INST_LIB): $(AGG_OBJS) $(LIB_OBJS)
$(ALL_LIBS) $(INST_LIB):
	@mkdir -p $(dir $@)
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
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n 2 --oversubscribe --bind-to none $(BUILD)/bin/il-bench --scaling

# Aggregation benchmark (scripts/bench-aggregate.sh): 1,000 synthetic finished runs x 2 ranks x 200 trace
# steps (generated once into $(BENCH_AGG)/runs-N; BENCH_AGG_RUNS=N another count), aggregated cold on 1 and on 2
# MPI ranks, warm after 10 more runs, and without caches, against the read floor.
BENCH_AGG ?= $(BUILD)/bench-aggregate
bench-aggregate: $(TOOLS)
	BENCH_AGG=$(BENCH_AGG) scripts/bench-aggregate.sh $(BUILD)

# The data's memory in training (scripts/bench-shard-rss.sh): the peak RSS of 2 ranks on a 1 GB synthetic
# shard set (made once into $(BENCH_RSS)), mapped, against the heap copy of the reader of commit 56a5943.
BENCH_RSS ?= $(BUILD)/bench-shard-rss
bench-shard-rss: $(TOOLS)
	BENCH_RSS=$(BENCH_RSS) scripts/bench-shard-rss.sh $(BUILD)

# il-prepare (scripts/bench-prepare.sh): GPT-2 encoding speed on BENCH_MB megabytes of the Brown Corpus
# repeated, against gpt-3-encoder under node, on 1 thread and on all cores; then (scripts/bench-prepare-rss.sh)
# its peak RSS and speed on about 100 MB and 1 GB, byte, BPE and GPT-2 tokens, 1 thread.
BENCH_MB ?= 100
bench-prepare: $(BUILD)/bin/il-prepare $(BUILD)/bin/il-tokenize
	BENCH_MB=$(BENCH_MB) scripts/bench-prepare.sh $(BUILD)
	scripts/bench-prepare-rss.sh $(BUILD)

# The main job: prepare the Brown Corpus, run the demo sweep on a private Slurm (LOCAL=1: with mpirun
# here), aggregate, and print the runs table, the verdicts on the hypotheses and the figures.
demo: all corpus
	DEMO_MODE=$(if $(LOCAL),local,slurm) scripts/demo.sh $(BUILD)/bin

# The research sweep behind docs/results.md: about an hour on 2 cores (jobs/examples/science.ini).
results: $(TOOLS) corpus
	scripts/results.sh $(BUILD)/bin

# Pre-trained GPT-2 models measured (scripts/results-pretrained.sh): MODELS="DIR ..." names Hugging Face
# directories (config.json, model.safetensors); each is imported, probed on NP ranks (default 2) on
# data/brown-gpt2 (prepared here; DATA=DIR another il-prepare directory) and aggregated into OUT (default
# sweeps/pretrained), which must not exist yet.
results-pretrained: $(BUILD)/bin/il-ckpt $(BUILD)/bin/il-probe $(BUILD)/bin/il-aggregate $(BUILD)/bin/il-prepare $(BUILD)/bin/il-eval
	MODELS="$(MODELS)" OUT="$(OUT)" NP="$(NP)" DATA="$(DATA)" scripts/results-pretrained.sh $(BUILD)/bin

# TOKENIZER=gpt2: data/brown-gpt2/ in GPT-2's tokens instead of data/brown/ (scripts/corpus.sh)
TOKENIZER ?= bpe
corpus: $(BUILD)/bin/il-prepare $(BUILD)/bin/il-eval
	TOKENIZER=$(TOKENIZER) scripts/corpus.sh $(BUILD)

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

# make install PREFIX=DIR: the tools (not the test fixtures) in bin/; the public headers include/innerloop/*.h,
# the library libinnerloop.a and lib/pkgconfig/innerloop.pc for programs of one's own; the job templates,
# example specs and config, and the gnuplot scripts under share/innerloop/, where il-sweep and il-aggregate
# look for them beside their bin/. Only a static library is installed, so innerloop.pc's Libs name its
# dependencies (NetCDF, MPI, BLAS, ...) directly; its prefix is where the file lies, so a copied or moved
# installation still compiles. make uninstall PREFIX=DIR removes exactly these files.
PREFIX    ?= /usr/local
IL_VERSION := $(shell sed -n 's/^\#define IL_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' include/innerloop/version.h | paste -sd.)
# Open MPI's wrapper says how it links (MPICH's: mpicc -link-info); set MPI_LIBS for another
MPI_LIBS  ?= $(shell $(CC) --showme:link 2>/dev/null)
INST_TOOLS := $(patsubst src/tools/%.c,bin/il-%,$(wildcard src/tools/*.c))
INST_SHARE := $(wildcard jobs/*.sbatch jobs/*.sh jobs/examples/*.ini)
INST_PLOTS := $(wildcard analysis/plots/*.gp)
INST_FILES := $(INST_TOOLS) $(addprefix include/innerloop/,$(notdir $(wildcard include/innerloop/*.h))) \
              lib/libinnerloop.a lib/pkgconfig/innerloop.pc $(addprefix share/innerloop/,$(INST_SHARE)) \
              $(addprefix share/innerloop/plots/,$(notdir $(INST_PLOTS)))
install: $(patsubst bin/%,$(BUILD)/bin/%,$(INST_TOOLS)) $(INST_LIB)
	install -d $(PREFIX)/bin $(PREFIX)/include/innerloop $(PREFIX)/lib/pkgconfig \
	    $(PREFIX)/share/innerloop/jobs/examples $(PREFIX)/share/innerloop/plots
	install -m 755 $(patsubst bin/%,$(BUILD)/bin/%,$(INST_TOOLS)) $(PREFIX)/bin
	install -m 644 include/innerloop/*.h $(PREFIX)/include/innerloop
	install -m 644 $(INST_LIB) $(PREFIX)/lib
	for f in $(INST_SHARE); do install -m $$(test -x $$f && echo 755 || echo 644) $$f $(PREFIX)/share/innerloop/$$f || exit; done
	install -m 644 $(INST_PLOTS) $(PREFIX)/share/innerloop/plots
	printf '%s\n' 'prefix=$${pcfiledir}/../..' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	    'Name: innerloop' 'Description: reader of innerloop trace files and summary.nc; the trace schema' \
	    'Version: $(IL_VERSION)' 'Cflags: -I$${includedir} $(NETCDF_CFLAGS)' \
	    'Libs: -L$${libdir} -linnerloop $(strip $(filter-out $(SAN),$(LDLIBS)) $(MPI_LIBS))' \
	    >$(PREFIX)/lib/pkgconfig/innerloop.pc
uninstall:
	rm -f $(addprefix $(PREFIX)/,$(INST_FILES))
	@# the folders of our own, where nothing else was put in them
	rmdir $(PREFIX)/share/innerloop/jobs/examples $(PREFIX)/share/innerloop/jobs \
	    $(PREFIX)/share/innerloop/plots $(PREFIX)/share/innerloop $(PREFIX)/include/innerloop 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
