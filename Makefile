# exitplan: two commands on a fresh Debian machine.
#   make run   installs missing Debian packages (when root), builds, runs the example on data/
#   make test  the same set-up, then every test
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
PACKAGES = cmake g++ make ninja-build pkg-config libeigen3-dev libnlopt-cxx-dev libceres-dev \
           libcli11-dev libyaml-cpp-dev catch2 libzip-dev zlib1g-dev \
           pybind11-dev python3-dev python3-numpy python3-pytest

.PHONY: all deps configure build run test bench clean
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

bench: build
	./scripts/run-bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
