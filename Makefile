# lambdoctor: the two commands a fresh machine needs are `make demo` and
# `make test`; both set up what they need first.
GO      ?= go
BIN     := bin/lambdoctor
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/lambdoctor/lambdoctor/cmd.version=$(VERSION)

.PHONY: all build setup demo test test-short cross-check release release-check vet lint fmt-check fixtures realimages realimages-all bench fuzz fuzz-short clean

all: build

# A static build (CGO_ENABLED=0): no libc to map, 1.5-2 MB less resident
# memory per process, and the same binary re-executed as the sandbox's
# init needs nothing from the image or the host. os/user then reads
# /etc/passwd and /etc/group itself (no NSS).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) .

setup:
	./scripts/setup.sh

# The demo: a real aws-lambda-go function on a Debian base (the debian-go
# real-shaped image, built once), inspected and then run the way Lambda runs
# it (as root: lambdoctor run needs namespaces), then its broken twins (the
# same image with one defect each, see internal/realimage/twins.go), each
# diagnosed by inspect and by run. A twin's commands exit 1: the leading -
# lets the demo go on.
REALIMAGES_DIR := $(or $(LAMBDOCTOR_REALIMAGES_DIR),build/realimages)
DEMO_IMAGE     := $(REALIMAGES_DIR)/debian-go/image.tar

# $(call demo-twin,NAME,WHAT): inspect and run one broken twin.
define demo-twin
	@echo
	@echo '### Broken twin: $(2)'
	-./$(BIN) inspect --compact $(REALIMAGES_DIR)/$(1)/image.tar
	@echo
	-@if [ "$$(id -u)" = 0 ]; then \
		echo '$$ lambdoctor run $(REALIMAGES_DIR)/$(1)/image.tar'; \
		./$(BIN) run $(REALIMAGES_DIR)/$(1)/image.tar; \
	else \
		echo "(lambdoctor run needs root: sudo ./$(BIN) run $(REALIMAGES_DIR)/$(1)/image.tar)"; \
	fi
endef

demo: setup build
	$(REALIMAGE) -q -only debian-go -twins
	./$(BIN) inspect $(DEMO_IMAGE)
	@echo
	@if [ "$$(id -u)" = 0 ]; then \
		echo '$$ echo '"'"'{"name":"demo"}'"'"' | lambdoctor run --event - $(DEMO_IMAGE)'; \
		echo '{"name":"demo"}' | ./$(BIN) run --event - $(DEMO_IMAGE); \
	else \
		echo "(lambdoctor run needs root: sudo ./$(BIN) run --event - $(DEMO_IMAGE))"; \
	fi
	@echo
	@echo '### Its broken twins: the same image with one defect each. inspect and run'
	@echo '### exit 1 on each (make says "Error 1 (ignored)") and name the cause.'
	$(call demo-twin,debian-go-noexec,the same function COPYed without its execute bit (no --chmod=755))
	$(call demo-twin,debian-go-wrongpath,ENTRYPOINT names /usr/local/bin/bootstrap; COPY put the function at /var/task/bootstrap)
	$(call demo-twin,debian-go-arm64,the same function built for arm64 (GOARCH unset on an Apple silicon Mac) in an amd64 image)

vet:
	$(GO) vet ./...

# staticcheck at a pinned version, built from the Go module proxy.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The real-shaped images (Debian bookworm bases, Debian packages, a real
# aws-lambda-go function) under build/realimages/, built once per recipe
# version (see internal/realimage). `make test` builds the ones the tests use
# when the machine can (root, debootstrap); realimages-all adds the 3 GB
# benchmark image.
REALIMAGE      := $(GO) run ./internal/realimage/cmd/realimage
TEST_IMAGES    := debian-go,debian-python,go-small

realimages:
	$(REALIMAGE) -only $(TEST_IMAGES)

realimages-all:
	$(REALIMAGE)

# All tests, including the real Docker daemon and registry tests and the
# real-shaped images.
test: setup vet fmt-check lint release-check
	$(REALIMAGE) -if-possible -q -only $(TEST_IMAGES)
	$(GO) test -count=1 ./...

# lambdoctor builds for macOS too (inspect works there; run needs Linux):
# a Linux-only API used outside its _linux files fails here, not at release.
# (make test runs release-check, which builds these and more.) -trimpath
# as the release builds, so the two share the build cache.
cross-check:
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null .
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null .

# The release (docs/release.md): static binaries for linux and darwin on
# amd64 and arm64 in reproducible tar.gz archives, checksums.txt, and the
# multi-arch container image as an OCI layout (dist/lambdoctor-oci), built
# without Docker by internal/release, then verified. release-check builds
# the same into a temporary directory and verifies it (make test runs it:
# about 1 minute with a warm build cache, 4-8 minutes cold on 2 cores).
release:
	$(GO) run ./internal/release -out dist -version $(VERSION)

release-check:
	$(GO) run ./internal/release -check -version $(VERSION)

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
# after make test). The budget is a count of executions, not a duration:
# Go 1.26's fuzzing coordinator can report "context deadline exceeded" as
# a failure when a duration runs out on a loaded machine (golang/go#75804,
# fixed in Go 1.27), and a count has no deadline to race.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=10000x

# Regenerate the checked-in fixtures under testdata/images.
fixtures:
	$(GO) run ./testdata/images/gen -out testdata/images

# Benchmarks against the gunzip floor: the filesystem pass on a generated
# >= 1 GiB image, then inspect, tar -x and run's unpack on the real-shaped
# images, on every core and again on one (taskset -c 0, GOMAXPROCS=1); and,
# as root, run's unpack of an image built from this machine's /usr against
# the floor and tar -x.
bench: realimages-all
	$(GO) test -timeout 90m -run '^$$' -bench . -benchtime 3x ./imagefs/ ./internal/realbench/
	$(GO) test -timeout 60m -run '^$$' -bench . -benchtime 3x ./sandbox/
	taskset -c 0 env GOMAXPROCS=1 $(GO) test -timeout 90m -run '^$$' -bench . -benchtime 3x ./internal/realbench/

clean:
	rm -rf bin dist
