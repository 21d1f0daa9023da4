# lambdoctor: the two commands a fresh machine needs are `make demo` and
# `make test`; both set up what they need first.
GO      ?= go
BIN     := bin/lambdoctor
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/lambdoctor/lambdoctor/cmd.version=$(VERSION)

.PHONY: all build setup demo test test-short vet fmt-check fixtures bench fuzz fuzz-short clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) .

setup:
	./scripts/setup.sh

# Inspect the bundled example images: a working one, then the seed story of
# a Ruby runtime interface client installed where ENTRYPOINT does not look.
demo: build
	./$(BIN) inspect testdata/images/hello-docker-archive.tar
	@echo
	-./$(BIN) inspect testdata/images/broken-entrypoint.tar

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# All tests, including the real Docker daemon and registry tests.
test: setup vet fmt-check
	$(GO) test -count=1 ./...

test-short:
	$(GO) test -short ./...

# Run every fuzz target of the repository (each func Fuzz* in a _test.go
# file) for FUZZTIME each, one after the other: make fuzz FUZZTIME=10m.
# New inputs that fail are written under the package's testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "fuzz $$(dirname "$$f") $$t for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "./$$(dirname "$$f")"; \
		done; \
	done

# Each fuzz target briefly, so the harness cannot rot (.ci/run runs it
# after make test).
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s

# Regenerate the checked-in fixtures under testdata/images.
fixtures:
	$(GO) run ./testdata/images/gen -out testdata/images

# Benchmarks of the filesystem pass against the gunzip floor (>= 1 GiB image),
# and of run's unpack against the gunzip floor and tar -x (root only; an
# image built from this machine's /usr/lib and /usr/share).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./imagefs/
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./sandbox/

clean:
	rm -rf bin
