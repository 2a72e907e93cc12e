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
LDFLAGS       := -X main.version=$(VERSION)
PLUGINS       := plugins/onnx benchmarks/retrieval benchmarks/classification benchmarks/vqa
TOOLS         := $(CURDIR)/.cache/tools
DEMO_DATA     := testdata/demo
DEMO_OUT      := runs/demo

.PHONY: build deps test-deps runtime demo test race bench vet proto clean

## deps: install the C library the cgo build needs (libjpeg-turbo's libjpeg API, as Pillow uses), when missing
deps:
	@if ! { [ -f /usr/include/jpeglib.h ] || pkg-config --exists libjpeg 2>/dev/null; }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libjpeg62-turbo-dev (libjpeg-turbo: decodes JPEG exactly as Pillow does)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjpeg62-turbo-dev >/dev/null; \
	  else \
	    echo "clipeval needs libjpeg-turbo's headers: install libjpeg62-turbo-dev (Debian), libjpeg-turbo8-dev (Ubuntu) or libjpeg-turbo-devel" >&2; exit 1; \
	  fi; \
	fi

## test-deps: Chromium for the headless-browser test of report.html (installed with apt when root; else skipped)
test-deps:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium (headless check of report.html)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
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

## build: the CLI in bin/ and the plugins in bin/plugins/
build: deps runtime
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/clipeval ./harness/cmd/clipeval
	@mkdir -p bin/plugins
	@for p in $(PLUGINS); do echo "$(GO) build -o bin/plugins/$$(basename $$p) ./$$p"; $(GO) build -ldflags '$(LDFLAGS)' -o bin/plugins/$$(basename $$p) ./$$p || exit 1; done

## demo: generate the embedded demo model and dataset, run configs/demo.yaml, write the report
demo: build
	$(GO) run ./internal/cmd/gendemo -out $(DEMO_DATA)
	bin/clipeval run configs/demo.yaml --out $(DEMO_OUT)
	@echo "report: $(DEMO_OUT)/report.md"

## test: everything CI runs
test: build vet test-deps
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed" >&2; exit 1; }

## race: the tests under the race detector
race: build
	$(GO) test -race -count=1 ./...

## bench: the benchmarks (preprocessing images/s, tokenizers texts/s, ...)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

## proto: regenerate plugins/proto from clipeval.proto (needs protoc: Debian protobuf-compiler)
proto:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	PATH=$(TOOLS):$$PATH protoc -I plugins/proto --go_out=paths=source_relative:plugins/proto \
	  --go-grpc_out=paths=source_relative:plugins/proto plugins/proto/clipeval/v1/clipeval.proto

clean:
	rm -rf bin runs $(DEMO_DATA)
