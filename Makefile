# elfuse: build, test and demo entry points. The build itself is CMake's
# (CMakeLists.txt); this file installs what the build needs and strings the steps
# together.
#
#   make deps          install missing Debian packages (as root; otherwise says what)
#   make build         configure and build into build/
#   make demo          run busybox under elfuse
#   make check         deps, build, format-check, the Debian root (once), then
#                      every test (ctest) but CPython's own (label cpython)
#   make check-python  deps, build, then CPython 3.11's regression tests natively
#                      and under elfuse, per test case (tests/cpython/)
#   make debian-root   build the Debian root the sysroot.debian.* tests use, if
#                      missing (scripts/debian-root.sh; cached in $ELFUSE_CACHE,
#                      default /var/cache/elfuse)
#   make format        reformat the C++ sources with clang-format 14
#   make format-check  fail if any C++ source is not formatted
#   make bench         build, then run bench/run.sh
#   make check-security  the hostile-guest tests (tests/security; docs/security.md),
#                      in the SVM lane when this host has no KVM backend
#   make check-sanitize  build, an ASan+UBSan elfuse (ELFUSE_SANITIZE, in
#                      build-sanitize/), then the security and guest tests of
#                      build/ in the SVM lane under it (LANE_TESTS= REGEX)
#   make check-svm     the SVM lane: build, then boot Debian's kernel under QEMU
#                      TCG with emulated AMD SVM, load kvm_amd, and run the guest
#                      tests and a subset of the real-program tests under elfuse
#                      on that hardware KVM (scripts/svm-lane/lane.sh; LANE_TESTS=
#                      REGEX picks tests)
#   make clean         remove build/

SHELL      := /bin/bash
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= 2
ELFUSE_BIN := $(BUILD_DIR)/elfuse
BUSYBOX    := /bin/busybox

# Debian packages the build, the tests and the demo need. gawk and python3 are
# run by the real.* tests (tests/real/cases.txt; python3's sqlite3 module is in
# libpython3.11-stdlib, which python3 pulls in), nodejs, gcc, make, git,
# sqlite3 and perl (Data::Dumper, Storable, File::Find) by the apps.* tests
# (tests/apps/cases.txt), debootstrap builds the Debian root of the
# sysroot.debian.* tests, stress-ng the stress.* tests, openjdk-17-jdk-headless
# (javac, java) the java.* tests (tests/java/cases.txt);
# libpython3.11-testsuite holds the CPython tests of check-python.
DEB_PACKAGES := cmake g++ make libgtest-dev libgmock-dev libbenchmark-dev \
                busybox-static musl-tools manpages-dev python3 gawk debootstrap stress-ng \
                nodejs gcc git sqlite3 perl openjdk-17-jdk-headless libpython3.11-testsuite \
                trinity

# clang-format 14: the versioned binary if present, else an unversioned one that
# reports version 14.
CLANG_FORMAT ?= $(shell command -v clang-format-14 2>/dev/null || \
                  (clang-format --version 2>/dev/null | grep -q 'version 14\.' && command -v clang-format))
FORMAT_FILES = $(shell find src tests bench -type f \( -name '*.cc' -o -name '*.h' \) 2>/dev/null | sort)

# No "Entering directory" noise from the make that cmake --build runs.
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo check check-python check-svm check-security check-sanitize debian-root format format-check bench clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if ! dpkg -s clang-format-14 >/dev/null 2>&1 && [ -z "$(CLANG_FORMAT)" ]; then \
	  missing="$$missing clang-format-14"; \
	fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "make deps: missing Debian packages:$$missing" >&2; \
	  echo "make deps: install them as root:  apt-get install -y$$missing" >&2; \
	  exit 1; \
	fi; \
	echo "make deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
	echo "make deps: installed$$missing"

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j$(JOBS)

# set -x shows each command (on stderr, prefixed with +) before its output.
demo: deps build
	@set -x; $(ELFUSE_BIN) $(BUSYBOX) sh -c 'for i in 1 2 3; do echo $$i; done | sort -r'
	@set -x; $(ELFUSE_BIN) $(BUSYBOX) sh -c 'echo "$$(uname -sm): $$(seq 1000 | wc -l) lines, sha256 $$(seq 1000 | sha256sum | cut -c1-16)"'

# Whether this host offers elfuse a KVM backend at all (elfuse --version says
# "backend: none: WHY" when it does not: no /dev/kvm, or a kvm_pvm that will
# not bind because this host is itself a PVM guest). Without one no guest can
# run here: the tests labelled elfuse (and CPython's) are left to make
# check-svm, which runs them natively and under elfuse on emulated hardware KVM,
# and make check says so in one line. The decision is elfuse's detection, not a
# trial run, so a broken elfuse on a KVM host still fails every test.
NO_KVM = $(shell $(ELFUSE_BIN) --version 2>/dev/null | sed -n 's/.*(backend: none: \(.*\))$$/\1/p')

# ctest runs last so that its summary is the end of the output.
check: deps build
	@$(MAKE) format-check
	@$(MAKE) debian-root
	@before=$$(scripts/tree-state.sh); status=0; \
	if [ -n "$(NO_KVM)" ]; then \
	  echo "make check: no KVM backend on this host ($(NO_KVM))"; \
	  echo "make check: the tests that run guests (label elfuse) are left to make check-svm"; \
	  (set -x; ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE 'cpython|elfuse') || status=$$?; \
	else \
	  (set -x; ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE cpython) || status=$$?; \
	fi; \
	after=$$(scripts/tree-state.sh); \
	if [ "$$before" != "$$after" ]; then \
	  echo "make check: the tests changed the working tree (a test writes only into a directory of its own):"; \
	  diff <(echo "$$before") <(echo "$$after") || true; \
	  status=1; \
	fi; \
	exit $$status

# One module at a time (RUN_SERIAL): see tests/CMakeLists.txt.
check-python: deps build
	@if [ -n "$(NO_KVM)" ]; then \
	  echo "make check-python: no KVM backend on this host ($(NO_KVM)): nothing to compare"; \
	else \
	  set -x; ctest --test-dir $(BUILD_DIR) --output-on-failure -L cpython; \
	fi

# The hostile-guest tests of tests/security (docs/security.md): under ctest
# where this host has a KVM backend, else in the SVM lane.
check-security: deps build
	@if [ -n "$(NO_KVM)" ]; then \
	  echo "make check-security: no KVM backend on this host ($(NO_KVM)): in the SVM lane"; \
	  set -x; LANE_TESTS='^security\.' scripts/svm-lane/lane.sh $(BUILD_DIR); \
	else \
	  set -x; ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -L security; \
	fi

# elfuse built with ASan and UBSan (CMakeLists.txt, ELFUSE_SANITIZE: a
# dynamic PIE, whose libraries the lane copies into its initramfs), then
# the hostile-guest and guest tests under it in the SVM lane; a sanitizer
# report on elfuse's stderr fails the test (tests/compare.sh compares stderr).
SAN_BUILD_DIR ?= build-sanitize
SANITIZE      ?= address,undefined
SAN_TESTS     ?= ^(security|guest)\.
check-sanitize: deps build
	cmake -S . -B $(SAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DELFUSE_SANITIZE=$(SANITIZE)
	cmake --build $(SAN_BUILD_DIR) -j$(JOBS) --target elfuse
	LANE_ELFUSE=$(SAN_BUILD_DIR)/elfuse LANE_LOG=$(SAN_BUILD_DIR)/svm-lane.log \
	  LANE_TESTS="$${LANE_TESTS:-$(SAN_TESTS)}" scripts/svm-lane/lane.sh $(BUILD_DIR)

# The lane installs its own tools (qemu-system-x86, cpio...) and caches the
# kernel in $(ELFUSE_CACHE)/svm-lane; its last line is the guest's summary.
check-svm: deps build
	scripts/svm-lane/lane.sh $(BUILD_DIR)

# Built once, then reused. A failure (not root, no network) does not fail the
# check: the sysroot.debian.* tests then skip, saying why.
debian-root:
	@if scripts/debian-root.sh --check; then exit 0; fi; \
	echo "make: building the Debian root for the sysroot.debian.* tests (once): $$(scripts/debian-root.sh --path)"; \
	scripts/debian-root.sh >/dev/null || \
	  echo "make: no Debian root; the sysroot.debian.* tests will be skipped"

format:
	@test -n "$(CLANG_FORMAT)" || { echo "clang-format 14 not found (make deps)" >&2; exit 1; }
	@test -z "$(FORMAT_FILES)" || $(CLANG_FORMAT) -i --style=file $(FORMAT_FILES)

format-check:
	@test -n "$(CLANG_FORMAT)" || { echo "clang-format 14 not found (make deps)" >&2; exit 1; }
	@test -z "$(FORMAT_FILES)" || $(CLANG_FORMAT) --dry-run -Werror --style=file $(FORMAT_FILES) || \
	  { echo "format-check: run 'make format' to fix the files above" >&2; exit 1; }
	@echo "format-check: $(words $(FORMAT_FILES)) files formatted"

# proot is the ptrace-based comparison in bench/run.sh's table.
bench: build
	@$(MAKE) deps DEB_PACKAGES="proot"
	bash bench/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
