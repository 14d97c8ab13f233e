# linuxaio: build linuxaio.ko for FreeBSD 14 and 15 on a Linux (Debian 12) machine.
#
#   make            set up what is missing, fetch the FreeBSD headers, build both .ko
#   make test       build, then run every test (unit, test bed, bindings check, kld lint)
#   make bindings   regenerate the committed bindings/ from the headers
#   make clean
#
# On a FreeBSD host use kmod/Makefile (bsd.kmod.mk) instead; see README.md.

MAJORS      := 14 15
BUILD       := build
HEADERS     := $(BUILD)/headers
KMOD_TARGET := x86_64-unknown-none

# Debian's rustc-web 1.96 with its own library source (rust-web-src): -Zbuild-std needs
# the library source of exactly the compiler's version. Named explicitly so that a
# rustup installation earlier in PATH does not matter.
CARGO   ?= /usr/bin/cargo
export RUSTC ?= /usr/bin/rustc
export RUSTDOC ?= /usr/bin/rustdoc
LLVM_VERSION ?= 22
LD      := ld.lld-$(LLVM_VERSION)
OBJCOPY := llvm-objcopy-$(LLVM_VERSION)

# What `make` needs, as Debian packages (bookworm's rustc-web is 1.96).
DEBIAN_PACKAGES := rustc-web cargo-web rust-web-src lld-$(LLVM_VERSION) llvm-$(LLVM_VERSION) \
                   libclang-dev python3-pip libaio-dev

BINDGEN := target/debug/linuxaio-bindgen
KLDLINT := target/debug/kldlint

.PHONY: all setup headers host-tools bindings test unit-test testbed-test thirdparty-test lint-test bindings-check man-test vm-harness-test vm-parts vm-test vm-bench vm-payload check-freebsd clean FORCE
.DEFAULT_GOAL := all

all: $(foreach m,$(MAJORS),$(BUILD)/freebsd$(m)/linuxaio.ko)

# Installs the Debian packages when run as root; otherwise says what to run.
setup:
	@missing=""; \
	for t in $(CARGO) $(RUSTC) $(LD) $(OBJCOPY); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	[ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] || missing=1; \
	ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing=1; \
	python3 -m pip --version >/dev/null 2>&1 || missing=1; \
	[ -e /usr/include/libaio.h ] || missing=1; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "make: installing $(DEBIAN_PACKAGES)"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_PACKAGES); \
		else \
			echo "make: missing build tools; run as root:"; \
			echo "  apt-get update && apt-get install -y $(DEBIAN_PACKAGES)"; \
			exit 1; \
		fi; \
	fi

host-tools: setup
	$(CARGO) build -q -p linuxaio-bindgen -p kldlint

# The FreeBSD header sets (PyPI ziglang wheels). Best effort: without them the build
# uses the committed bindings and says so.
headers: host-tools
	@$(BINDGEN) fetch $(HEADERS) || echo "make: could not fetch the FreeBSD headers; building with the committed bindings/"

LINUXAIO_ENV = $(if $(wildcard $(HEADERS)/ziglang-*),LINUXAIO_HEADER_CACHE=$(CURDIR)/$(HEADERS))

# One .ko per major. Both share one cargo target directory, so that the build script's
# dependencies and core/alloc (the same for both) are compiled once; cargo serialises
# the two builds and copies each library to the major's own directory.
$(BUILD)/freebsd%/linuxaio.ko: FORCE | headers
	@mkdir -p $(@D)/rust
	$(LINUXAIO_ENV) $(CARGO) build -q --release -p linuxaio --features freebsd$* \
		--target $(KMOD_TARGET) -Zbuild-std=core,alloc -Zunstable-options --artifact-dir $(@D)/rust
	$(LD) -m elf_x86_64_fbsd -r --gc-sections --build-id=sha1 -T kmod/ldscript.kmod.amd64 \
		-o $(@D)/linuxaio.full.o --whole-archive $(@D)/rust/liblinuxaio.a
	$(OBJCOPY) -R .llvmbc -R .llvmcmd -R .comment --strip-debug \
		--wildcard --localize-symbol='*' $(@D)/linuxaio.full.o $@
	@echo "built $@"

bindings: host-tools
	$(BINDGEN) fetch $(HEADERS)
	$(BINDGEN) write $(HEADERS) bindings

# ---- tests ------------------------------------------------------------------------

TEST_STAGES := unit-test testbed-test thirdparty-test bindings-check lint-test man-test vm-harness-test

# Every stage stops make on a failure; reaching the end means all of them passed.
test: all $(TEST_STAGES)
	@echo "make test: every stage passed ($(TEST_STAGES))"
	@echo "stages: $(words $(TEST_STAGES)) passed, 0 failed"

# Host unit tests: the tools, and the module's pure logic for each major.
unit-test: setup
	$(CARGO) test -p linuxaio-bindgen -p kldlint
	$(foreach m,$(MAJORS),$(CARGO) test -p linuxaio --lib --features freebsd$(m) &&) true

# The test bed: the KPI model's own tests, and the built modules loaded into it.
testbed-test: all
	$(CARGO) build -q -p kldhost-preload
	$(CARGO) test -p kldhost

# Unmodified Linux programs under the test bed, next to their native runs: libaio's
# harness (Debian's source package) and Debian's fio. Their results are recorded in the
# output; the target fails only if the test bed crashed or reported findings.
thirdparty-test: testbed-test
	bash tests/thirdparty/libaio-harness.sh target/debug/kldhost $(BUILD)
	bash tests/thirdparty/fio.sh target/debug/kldhost $(BUILD)

# Regenerating the bindings from the headers must give the committed files.
bindings-check: host-tools
	@$(BINDGEN) check $(HEADERS) bindings; status=$$?; \
	if [ $$status = 77 ]; then echo "bindings check: SKIPPED (no headers)"; exit 0; fi; exit $$status

# The kld lint on every built .ko, against what linuxaio declares for that major.
lint-test: all
	@set -e; for m in $(MAJORS); do \
		v=$$(sed -n 's/^pub const FREEBSD_VERSION: u32 = \([0-9]*\);/\1/p' bindings/freebsd$$m.rs); \
		max=$$(( (v + 99999) / 100000 * 100000 - 1 )); \
		$(KLDLINT) --symbols tests/kldlint/kernel-symbols.allow --major $$m \
			--module linuxaio --version 1 \
			--depend kernel:$$v:$$v:$$max --depend linux64:1:1:1 --depend linux_common:1:1:1 \
			$(BUILD)/freebsd$$m/linuxaio.ko; \
	done

# The VM harness's own logic (image handling, payload, console, results, a real QEMU
# without FreeBSD). Each test says what it does not prove.
vm-harness-test: all
	bash vm-harness/tests/setup.sh
	cd vm-harness && python3 -m unittest discover -s tests -t . -v

# ---- real FreeBSD (vm-harness/README.md) ---------------------------------------------

# What every payload takes besides the modules: QEMU and the ISO tools, libaio's harness
# built, and a fio that knows libaio_vectored where one can be built.
vm-parts: all
	bash vm-harness/tests/setup.sh
	LIBAIO_HARNESS_BUILD_ONLY=1 bash tests/thirdparty/libaio-harness.sh /dev/null $(BUILD)
	bash tests/thirdparty/fio-build.sh $(BUILD) >/dev/null || echo "make: no newer fio could be built; the payload takes Debian's"

# Boots FREEBSD_IMAGE (or FREEBSD_VERSION's CI image, downloaded) in QEMU and runs the
# payload there. Exits 77 when no image is available, saying how to give one.
vm-test: vm-parts
	cd vm-harness && python3 -m vmharness run

vm-bench: vm-parts
	cd vm-harness && python3 -m vmharness bench

# The payload alone (build/vm/payload and build/vm/payload.iso), e.g. for a FreeBSD host.
vm-payload: vm-parts
	cd vm-harness && python3 -m vmharness payload --out ../build/vm/payload --iso ../build/vm/payload.iso

# On a FreeBSD host: build the module here, load it, run a payload made on Linux.
check-freebsd:
	sh vm-harness/check-freebsd.sh $(PAYLOAD)

# linuxaio(4) must pass mandoc's lint.
man-test:
	bash tests/man/lint.sh kmod/linuxaio.4

clean:
	rm -rf $(BUILD) target

FORCE:
