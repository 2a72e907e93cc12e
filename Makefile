# clipeval — `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO            ?= go
ORT_VERSION   := 1.30.0
ORT_CACHE     := $(CURDIR)/.cache/onnxruntime/$(ORT_VERSION)
# CLIPEVAL_ORT_LIB overrides the ONNX Runtime library the build fetches from the onnxruntime-node npm package.
CLIPEVAL_ORT_LIB ?= $(ORT_CACHE)/libonnxruntime.so.1
export CLIPEVAL_ORT_LIB
VERSION       := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# -s -w: no symbol table or DWARF (stack traces and profiles still name every function): binaries a third smaller,
# which the plugin host hashes before every start (SHA256SUMS) and the kernel pages in.
LDFLAGS       := -s -w -X main.version=$(VERSION)
PLUGINS       := plugins/onnx plugins/kserve benchmarks/retrieval benchmarks/classification benchmarks/vqa
# Plugins in other languages: folders whose executable `install DEST` writes the plugin as one executable file.
SCRIPT_PLUGINS := benchmarks/pyalign
# What the Python plugins import: Debian's python3-grpcio, python3-protobuf and python3-numpy.
PY_DEBS       := python3-grpcio python3-protobuf python3-numpy
# What the Slurm tests' one-node cluster runs (internal/slurmtest): Debian's Slurm daemons and clients, and MUNGE.
SLURM_DEBS    := slurm-wlm munge
TOOLS         := $(CURDIR)/.cache/tools
# -tags openblas when OpenBLAS's cblas.h and library link (deps installs Debian's libopenblas-dev): the retrieval
# ranking's similarity tiles then run on cblas_sgemm; without it, on the pure-Go kernel (same ranks, slower).
# Recursive (=), so a build that ran deps first sees what deps installed.
GOTAGS        = $(shell printf '\043include <cblas.h>\nint main(void){return 0;}\n' | $${CC:-cc} -x c - -lopenblas -o /dev/null 2>/dev/null && echo -tags openblas)
# The shared folder (VQA-RAD, fixtures) the benchmarks read; CLIPEVAL_SHARED overrides it, as for the tests.
SHARED        ?= $(or $(CLIPEVAL_SHARED),$(CURDIR)/../shared)
DEMO_DATA     := testdata/demo
DEMO_OUT      := runs/demo
# The full-size BiomedCLIP-shaped benchmark model (internal/benchmodel; seeded weights, ~785 MB, never committed).
BENCH_MODEL   := $(CURDIR)/.cache/bench-model/biomedclip-vit-b16
# Go skips testdata/ in ./... patterns: the conformance suite's fake plugins are named explicitly.
TESTDATA_PKGS := ./harness/conformance/testdata/goodtask ./harness/conformance/testdata/badtask \
                 ./harness/conformance/testdata/goodmodel ./harness/conformance/testdata/faultmodel \
                 ./harness/conformance/testdata/fakemodel ./harness/pluginhost/testdata/envtask

# The native fuzz targets, as package:FuzzName (go test -fuzz takes one target of one package at a time).
FUZZ_TARGETS  := harness/config:FuzzLoad harness/results:FuzzRead \
                 benchmarks/datasets:FuzzReadJSONL benchmarks/datasets:FuzzReadCSV \
                 benchmarks/datasets:FuzzReadImageFolder benchmarks/datasets:FuzzReadWebDataset \
                 benchmarks/datasets:FuzzReadVQARAD benchmarks/datasets:FuzzReadSLAKE benchmarks/datasets:FuzzReadDICOM \
                 plugins/sdk/npy:FuzzRead plugins/sdk/npy:FuzzReadNPZ plugins/sdk/npy:FuzzMapFloat32 \
                 plugins/tokenizer:FuzzBERT plugins/tokenizer:FuzzCLIP plugins/imageprep:FuzzDecode \
                 plugins/onnx/backend:FuzzReadFolder
# How long `make fuzz` runs each target, and `make fuzz-smoke` (part of `make test`: a count of new inputs, a few
# seconds a target, since a duration shorter than replaying the cached corpus fails with "context deadline
# exceeded"); FUZZ_MINIMIZE bounds the time spent shrinking each new input that widens coverage (go test's default,
# 60s, would take a short run's whole time).
FUZZTIME      ?= 5m
FUZZ_SMOKE_TIME ?= 500x
FUZZ_MINIMIZE ?= 2s

.PHONY: build deps blas-deps py-deps test-deps runtime demo test race bench bench-all bench-rank bench-model vet proto clean \
        fuzz fuzz-smoke fuzz-check

## deps: install the C library the cgo build needs (libjpeg-turbo's libjpeg API, as Pillow uses), OpenBLAS for the
## retrieval ranking and the Python plugins' modules, when missing
deps: py-deps blas-deps
	@if ! { [ -f /usr/include/jpeglib.h ] || pkg-config --exists libjpeg 2>/dev/null; }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libjpeg62-turbo-dev (libjpeg-turbo: decodes JPEG exactly as Pillow does)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjpeg62-turbo-dev >/dev/null; \
	  else \
	    echo "clipeval needs libjpeg-turbo's headers: install libjpeg62-turbo-dev (Debian), libjpeg-turbo8-dev (Ubuntu) or libjpeg-turbo-devel" >&2; exit 1; \
	  fi; \
	fi

## blas-deps: OpenBLAS (Debian libopenblas-dev) for the retrieval ranking's cblas_sgemm, with apt when root; without
## it the build falls back to the pure-Go kernel (same ranks, several times slower), so this never fails
blas-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so '; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libopenblas-dev (OpenBLAS: the retrieval ranking's similarity tiles)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null; \
	  else \
	    echo "note: without OpenBLAS (libopenblas-dev) retrieval ranks with the pure-Go kernel: same ranks, slower" >&2; \
	  fi; \
	fi

## py-deps: the system Python's grpc, protobuf and numpy for the Python plugins (apt when root; else a hint)
py-deps:
	@if ! /usr/bin/python3 -c 'import grpc, google.protobuf, numpy' 2>/dev/null && ! python3 -c 'import grpc, google.protobuf, numpy' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(PY_DEBS) (the Python plugins' modules)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PY_DEBS) >/dev/null; \
	  else \
	    echo "the Python plugins need grpcio, protobuf and numpy: install $(PY_DEBS) (Debian/Ubuntu)" >&2; exit 1; \
	  fi; \
	fi

## test-deps: Chromium for the headless-browser test of report.html, and Slurm (Debian slurm-wlm, munge) for the
## one-node cluster the Slurm tests start (internal/slurmtest), installed with apt when root; without them those
## tests skip (fail when CI is set)
test-deps:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium (headless check of report.html)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if ! PATH="$$PATH:/usr/sbin:/sbin" command -v slurmctld >/dev/null || ! PATH="$$PATH:/usr/sbin:/sbin" command -v munged >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(SLURM_DEBS) (the one-node Slurm cluster of the Slurm tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_DEBS) >/dev/null; \
	  else \
	    echo "note: the Slurm tests skip (fail under CI) without Slurm: install $(SLURM_DEBS) (Debian/Ubuntu), run as root" >&2; \
	  fi; \
	fi

## runtime: fetch ONNX Runtime's shared library (cached), unless CLIPEVAL_ORT_LIB names one already there
runtime: bin/lib/libonnxruntime.so.1

$(ORT_CACHE)/libonnxruntime.so.1:
	@command -v npm >/dev/null || { echo "npm is needed to fetch ONNX Runtime (or set CLIPEVAL_ORT_LIB to your libonnxruntime.so)" >&2; exit 1; }
	@mkdir -p $(ORT_CACHE)/pack
	cd $(ORT_CACHE)/pack && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null
	tar -xzf $(ORT_CACHE)/pack/onnxruntime-node-$(ORT_VERSION).tgz -C $(ORT_CACHE)/pack package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mv $(ORT_CACHE)/pack/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $@
	rm -rf $(ORT_CACHE)/pack

bin/lib/libonnxruntime.so.1: $(CLIPEVAL_ORT_LIB)
	@mkdir -p bin/lib
	cp -f $(CLIPEVAL_ORT_LIB) $@

## build: the CLI in bin/ and the plugins in bin/plugins/, with their checksum list bin/plugins/SHA256SUMS (the
## harness starts only the plugins it lists with their SHA-256)
build: deps runtime
	$(GO) build $(GOTAGS) -ldflags '$(LDFLAGS)' -o bin/clipeval ./harness/cmd/clipeval
	@mkdir -p bin/plugins
	@for p in $(PLUGINS); do echo "$(GO) build $(GOTAGS) -o bin/plugins/$$(basename $$p) ./$$p"; $(GO) build $(GOTAGS) -ldflags '$(LDFLAGS)' -o bin/plugins/$$(basename $$p) ./$$p || exit 1; done
	@for p in $(SCRIPT_PLUGINS); do echo "$$p/install bin/plugins/$$(basename $$p)"; $$p/install bin/plugins/$$(basename $$p) || exit 1; done
	bin/clipeval plugins --write-sums $(addprefix bin/plugins/,$(notdir $(PLUGINS) $(SCRIPT_PLUGINS)))

## demo: generate the embedded demo model and dataset, run configs/demo.yaml, write the report
demo: build
	$(GO) run ./internal/cmd/gendemo -out $(DEMO_DATA)
	bin/clipeval run configs/demo.yaml --out $(DEMO_OUT)
	@echo "report: $(DEMO_OUT)/report.md"

## test: everything CI runs (the fuzz targets' seed corpora run with the tests, then each target fuzzes briefly)
test: build vet test-deps
	$(GO) test $(GOTAGS) -count=1 -timeout 30m ./... $(TESTDATA_PKGS)
	$(MAKE) fuzz-smoke

## fuzz-check: FUZZ_TARGETS lists exactly the repository's `func Fuzz...` targets
fuzz-check:
	@found=$$(grep -rE --include='*_test.go' --exclude-dir=.cache -o '^func Fuzz[A-Za-z0-9_]*' . | \
	  sed -E 's|^\./||; s|/[^/]*:func |:|' | sort); \
	listed=$$(printf '%s\n' $(FUZZ_TARGETS) | sort); \
	if [ "$$found" != "$$listed" ]; then \
	  echo "FUZZ_TARGETS in the Makefile does not list the fuzz targets the code has:" >&2; \
	  diff <(echo "$$listed") <(echo "$$found") >&2; exit 1; \
	fi

## fuzz-smoke: every fuzz target for FUZZ_SMOKE_TIME (500 new inputs) each, as `make test` runs them
fuzz-smoke: fuzz-check
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t for $(FUZZ_SMOKE_TIME)"; \
	  $(GO) test $(GOTAGS) -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZ_SMOKE_TIME) -fuzzminimizetime $(FUZZ_MINIMIZE) ./$${t%%:*} || exit 1; \
	done

## fuzz: every fuzz target for FUZZTIME (default 5m) each, e.g. `make fuzz FUZZTIME=30m`; a failing input is written
## to the package's testdata/fuzz/<target>/ (commit it with the fix: it becomes a regression seed)
fuzz: fuzz-check
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t for $(FUZZTIME)"; \
	  $(GO) test $(GOTAGS) -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZ_MINIMIZE) ./$${t%%:*} || exit 1; \
	done

vet:
	$(GO) vet ./... $(TESTDATA_PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed" >&2; exit 1; }

## race: the tests under the race detector
race: build
	$(GO) test -race -count=1 ./... $(TESTDATA_PKGS)

## bench: every speed goal measured side by side with its reference (internal/benchsuite), printed and written
## with the machine and date into BENCHMARKS.md; under 15 minutes on two cores
bench: build bench-model
	$(GO) run $(GOTAGS) ./internal/cmd/benchsuite -shared $(SHARED) -model $(BENCH_MODEL) -write BENCHMARKS.md

## bench-all: every Go benchmark of every package, once each (go test -bench)
bench-all: build
	$(GO) test $(GOTAGS) -run '^$$' -bench . -benchtime 1x -benchmem ./...

## bench-rank: the retrieval ranking's benchmarks alone, once each (BENCHMARKS.md); CLIPEVAL_RANK_BENCH_N=725739
## for the paper-scale run (hours on two cores)
bench-rank: blas-deps
	$(GO) test $(GOTAGS) -run '^$$' -bench . -benchtime 1x ./benchmarks/rank/

## bench-model: write the BiomedCLIP-shaped benchmark model folder (ViT-B/16 + BERT-base with seeded weights, the
## tokenizer of ../shared's tiny BiomedCLIP) to .cache/bench-model/; a no-op when its stamp says it is up to date
bench-model:
	$(GO) run ./internal/cmd/genbench -out $(BENCH_MODEL) -tokenizer $(SHARED)/fixtures/tiny-a/biomedclip

## proto: regenerate plugins/proto from clipeval.proto and grpc_predict_v2.proto (the Open Inference Protocol the
## kserve backend and `clipeval serve` speak), and the Python plugin's modules from clipeval.proto and health.proto
## (needs protoc: Debian protobuf-compiler)
proto:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	PATH=$(TOOLS):$$PATH protoc -I plugins/proto --go_out=paths=source_relative:plugins/proto \
	  --go-grpc_out=paths=source_relative:plugins/proto plugins/proto/clipeval/v2/clipeval.proto \
	  plugins/proto/inference/v2/grpc_predict_v2.proto
	protoc -I plugins/proto/clipeval/v2 --python_out=benchmarks/pyalign/app plugins/proto/clipeval/v2/clipeval.proto
	protoc -I benchmarks/pyalign --python_out=benchmarks/pyalign/app benchmarks/pyalign/health.proto

clean:
	rm -rf bin runs $(DEMO_DATA)
