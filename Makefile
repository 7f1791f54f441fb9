# Cohort — the two commands a new user needs:
#   make devnet   install missing Debian packages, build, run a one-validator chain with a demo
#   make test     the same set-up, then every test (unit, integration, VM differential)
#   make localnet four validators (four cohortd processes) with executors and a task
# Also: make build | make bench | make bench-vm | make fuzz | make clean | make devnet-reset | make localnet-reset

BUILD       ?= build
BUILD_TYPE  ?= RelWithDebInfo
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
DEVNET_HOME ?= $(CURDIR)/.devnet
DEVNET_RPC  ?= 127.0.0.1:27657
LOCALNET_DIR ?= $(CURDIR)/.localnet

MAKEFLAGS += --no-print-directory

.PHONY: all deps build devnet devnet-reset localnet localnet-reset test test-asan bench bench-vm fuzz clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

devnet: build
	@DEVNET_HOME=$(DEVNET_HOME) DEVNET_RPC=$(DEVNET_RPC) BIN=$(CURDIR)/$(BUILD)/bin exec bash scripts/devnet.sh

devnet-reset:
	rm -rf $(DEVNET_HOME)

localnet: build
	@LOCALNET_DIR=$(LOCALNET_DIR) BIN=$(CURDIR)/$(BUILD)/bin exec bash scripts/localnet.sh

localnet-reset:
	rm -rf $(LOCALNET_DIR)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (CI runs this too): the integration test then drives an instrumented cohortd.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCOHORT_SANITIZE=ON > /dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j 2 -L "unit|integration" --timeout 900

bench: build
	@bash bench/run.sh $(CURDIR)/$(BUILD)

bench-vm: build
	@$(BUILD)/bench/bench_vm

fuzz: deps
	@bash tests/fuzz/run.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-fuzz
