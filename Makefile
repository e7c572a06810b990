# Cairn. `make run` starts a local cluster; `make test` runs every test.
GO ?= go
BIN := bin
export CGO_ENABLED ?= 0
# Stamped into the binaries (objgw --version); the go command's own VCS
# stamp is the fallback when these are empty.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X cairn/internal/cli.version=$(VERSION) -X cairn/internal/cli.commit=$(COMMIT)

.PHONY: all build run test test-short race vet fmt fuzz bench-erasure clean images cluster-test

all: build

# Static binaries, one per role (CGO_ENABLED=0 above).
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

run: build
	./scripts/run-local.sh

# The whole suite: vet, gofmt, race tests for the packages with concurrency,
# everything else normally. CI runs exactly this.
test: vet fmt
	$(GO) test -count=1 -timeout 15m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 15m ./metadata/... ./quorum/... ./erasure/... ./node/... \
		./gateway/... ./membership/... ./transport/... ./internal/metrics/... ./layoutstore/...
	# The gateway's concurrency is exercised end to end: the protocol tests
	# run again under the race detector (the CLI and process tests do not).
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 15m -run 'Smoke|Sloppy|History|Faults|CutOff|Slow|ReadRepair|Skew|TwoNodes|Conditional|Rebalance' ./e2e/

test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every fuzz target in turn for FUZZTIME each (`make test` runs only their
# seeds); what a target finds is saved under its package's testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench-erasure:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./erasure/

clean:
	rm -rf $(BIN)

# FROM scratch images around the static binaries: cairn-objgw, cairn-objnode.
TAG ?= dev
images: build
	docker build -f deploy/Dockerfile --build-arg ROLE=objnode -t cairn-objnode:$(TAG) $(BIN)/
	docker build -f deploy/Dockerfile --build-arg ROLE=objgw -t cairn-objgw:$(TAG) $(BIN)/

# Six nodes in three zones and two gateways under docker compose: PUT/GET/LIST
# through both gateways, with one node stopped, and after it is back. Tears
# the cluster down whatever happens (deploy/cluster-test.sh).
cluster-test: build
	CAIRN_TAG=$(TAG) ./deploy/cluster-test.sh

# Load generator (benchmarks/README.md). bench runs the standard scenarios
# against a local cluster the tool starts (about 5 minutes) and writes
# benchmarks/results/<date>-<commit>{/,.md}; bench-smoke runs every scenario
# kind for a second and fails on any error or lost object; bench-versus runs
# the data-path scenarios on another S3 server and on a local cluster in
# turn, e.g. make bench-versus VERSUS=http://127.0.0.1:9100
# BENCHFLAGS="--versus-access-key minioadmin --versus-secret-key minioadmin".
.PHONY: bench bench-smoke bench-versus
bench: build
	$(GO) run ./benchmarks/cmd/cairnbench --cluster local --bin-dir $(BIN) --suite standard $(BENCHFLAGS)

bench-versus: build
	@test -n "$(VERSUS)" || { echo "bench-versus: set VERSUS to the other server's endpoint"; exit 2; }
	$(GO) run ./benchmarks/cmd/cairnbench --cluster local --bin-dir $(BIN) --suite datapath --versus $(VERSUS) $(BENCHFLAGS)

bench-smoke: build
	$(GO) run ./benchmarks/cmd/cairnbench --cluster local --bin-dir $(BIN) --suite smoke --strict --out "" $(BENCHFLAGS)
