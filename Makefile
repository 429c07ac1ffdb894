# exitplan: two commands on a fresh Debian machine.
#   make run   installs missing Debian packages (when root), builds, runs the example on data/
#   make test  the same set-up, then every test
#   make test-asan       every test again, built with AddressSanitizer + UndefinedBehaviorSanitizer
#                        (float-cast-overflow included, any report fails) in build-asan/
#   make fuzz FUZZ_SECONDS=N   libFuzzer targets (clang) built in build-fuzz/, each run N seconds
#                        (FUZZ_TARGETS="fuzz_sweep fuzz_csv" for some of them only)
#   make format          applies .clang-format (Debian's clang-format 14) to every C++ file git tracks
#   make format-check    lists the C++ files make format would change; fails when there is one
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
PACKAGES = cmake g++ make ninja-build pkg-config libeigen3-dev libnlopt-cxx-dev libceres-dev \
           libcli11-dev libyaml-cpp-dev catch2 libzip-dev zlib1g-dev libssl-dev \
           pybind11-dev python3-dev python3-numpy python3-pytest
FUZZ_PACKAGES = clang libclang-rt-dev
FORMAT_PACKAGES = clang-format-14
CLANG_FORMAT ?= clang-format-14
# The project's C++ files: every tracked source and header (git ls-files; find outside a checkout).
FORMAT_FILES = $(shell git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null || \
                 find bench cli dse include optim profiles python tests -name '*.[ch]pp' -o -name '*.h')
ASAN_BUILD   ?= build-asan
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_OUT     ?= /tmp/exitplan-fuzz
FUZZ_TARGETS ?=
CMAKE_ARGS   ?=   # extra cmake arguments for the sanitizer and fuzz builds
# The sanitizer and fuzz builds compile through ccache when it is installed.
LAUNCHER      = $(if $(shell command -v ccache 2>/dev/null),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
SAN_FLAGS     = -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
# Tests too slow under the sanitizers carry the CTest label "heavy" and run in `make test` only.
ASAN_ENV      = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build run test test-asan fuzz bench format format-check clean
all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install -y --no-install-recommends$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: configure
	cmake --build $(BUILD) -j $(JOBS) --target exitplan
	./scripts/run-example.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --no-tests=error --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEXITPLAN_BUILD_BENCH=OFF -DEXITPLAN_BUILD_PYTHON=OFF $(LAUNCHER) $(CMAKE_ARGS) \
	  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g $(SAN_FLAGS)" "-DCMAKE_EXE_LINKER_FLAGS=$(SAN_FLAGS)"
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --no-tests=error --output-on-failure -j $(JOBS) -LE heavy

fuzz: deps
	@$(MAKE) --no-print-directory deps PACKAGES="$(FUZZ_PACKAGES)"
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DEXITPLAN_FUZZ=ON -DEXITPLAN_BUILD_TESTS=OFF -DEXITPLAN_BUILD_BENCH=OFF -DEXITPLAN_BUILD_PYTHON=OFF $(LAUNCHER) $(CMAKE_ARGS) \
	  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow -fno-sanitize-recover=all" \
	  "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined,float-cast-overflow"
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all exitplan
	FUZZ_TARGETS="$(FUZZ_TARGETS)" ./scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_OUT)

format:
	@$(MAKE) --no-print-directory deps PACKAGES="$(FORMAT_PACKAGES)"
	@printf '%s\n' $(FORMAT_FILES) | xargs -r $(CLANG_FORMAT) -i --style=file

format-check:
	@$(MAKE) --no-print-directory deps PACKAGES="$(FORMAT_PACKAGES)"
	@bad=$$(for f in $(FORMAT_FILES); do \
	  $(CLANG_FORMAT) --style=file "$$f" | cmp -s - "$$f" || echo "$$f"; done); \
	if [ -n "$$bad" ]; then \
	  echo "not formatted with $(CLANG_FORMAT) (run make format):"; printf '  %s\n' $$bad; exit 1; \
	fi; echo "format-check: $(words $(FORMAT_FILES)) files formatted"

bench: build
	./scripts/run-bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
