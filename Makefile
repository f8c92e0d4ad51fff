# vlac: the two commands are `make demo` and `make test`; both install what is missing first.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
DEMO_OUT ?= demo-out

.PHONY: all setup setup-reference build release demo write-example test test-aarch64 c-example lib install test-lib python-test python-example reference reference-full reference-hypervla-full test-full fuzz clean help

all: build

help:
	@echo "make demo       install what is missing, build, and run the example end to end"
	@echo "make test       install what is missing and run the whole test suite"
	@echo "make test-aarch64  the C kernels and SHA-256 cross-built for aarch64, checked under qemu-aarch64"
	@echo "make reference  install the reference stack (torch CPU, transformers, JAX, ...) and regenerate fixtures"
	@echo "make reference-full  generate the full-size t5-base / dinov2-base parity references (not committed)"
	@echo "make reference-hypervla-full  generate the released-size HyperVLA reference (random weights, not committed)"
	@echo "make test-full  the full-size parity tests (release build; generates both full-size references if missing)"
	@echo "make release    optimized build of the vlac command (.build/release/vlac)"
	@echo "make lib        the robot-side C library: .build-vlart/release/libvlart.so (release, Swift runtime inside)"
	@echo "make install    install libvlart, vlart.h, vlart.pc and the CMake package (PREFIX=/usr/local, DESTDIR=)"
	@echo "make test-lib   install into a temporary prefix and build and run C and C++ consumers against it"
	@echo "make fuzz       run every libFuzzer target (Fuzz/run.sh list), FUZZ_SECONDS=60 each"

setup:
	@scripts/setup.sh

setup-reference:
	@scripts/setup.sh reference

build: setup
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

release: setup
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

# Compiles the demo task list with hypervla-tiny (random weights), then verifies and dumps one policy and runs it
# on the sample camera frame (Examples/frames/coffee.jpg, a real 320x256 tabletop photograph, CC0).
DEMO_FRAME ?= Examples/frames/coffee.jpg
# The writer-API example (write-example) stays buildable as an API example: `make write-example`.
demo: setup
	$(SWIFT) build -c release --product vlac $(SWIFT_BUILD_FLAGS)
	.build/release/vlac compile --instructions Examples/hypervla-tiny/tasks.txt --model Examples/hypervla-tiny/model -o $(DEMO_OUT)
	@set -e; policy=$$(ls $(DEMO_OUT)/policies/pick-up-the-red-block-and-place-it-in-the-bowl-*.vla | head -1); \
	echo "== vlac verify $$policy"; .build/release/vlac verify "$$policy"; \
	echo "== vlac dump $$policy"; .build/release/vlac dump "$$policy"; \
	echo "== vlac run $$policy --image $(DEMO_FRAME)"; .build/release/vlac run "$$policy" --image $(DEMO_FRAME)

write-example: setup
	$(SWIFT) build -c release --product write-example $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --product vlac $(SWIFT_BUILD_FLAGS)
	@mkdir -p $(DEMO_OUT)
	.build/release/write-example $(DEMO_OUT)/example.vla
	.build/release/vlac verify $(DEMO_OUT)/example.vla

test: setup
	scripts/gen-proto.sh --check
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_BUILD_FLAGS)
	$(MAKE) c-example
	$(MAKE) test-lib
	$(MAKE) python-test
	$(MAKE) test-aarch64

# The C kernels (Sources/CVLAKernels) and SHA-256 (Sources/CVLASHA256) cross-compiled for aarch64 with a C
# driver (Tests/aarch64) and run under qemu-aarch64 at three CPU models, every Arm path against the portable
# reference bit for bit (BFDOT/BFMMLA against their own rule); about 50 s on the 2-core CI machine, building
# the three drivers side by side included, so `make test` runs it. On an Arm machine the driver runs natively. Docs/Deploying.md
# says what this covers.
test-aarch64: setup
	$(MAKE) -j3 -C Tests/aarch64 run

# The C robot loop (Examples/c-robot-loop), compiled with cc against vlart.h and libvlart, run on the demo policy.
C_EXAMPLE_OUT ?= .build/c-example
c-example:
	$(SWIFT) build --product vlart $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build --product write-demo-policy $(SWIFT_BUILD_FLAGS)
	$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/write-demo-policy $(C_EXAMPLE_OUT)
	$(MAKE) -C Examples/c-robot-loop LIBDIR=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))
	Examples/c-robot-loop/robot_loop $(C_EXAMPLE_OUT)/policies/demo.vla $(C_EXAMPLE_OUT)/shared
	@# The compiled hypervla-tiny policy (use_initial_image = true: reset + step, three shared blobs).
	$(SWIFT) build --product vlac $(SWIFT_BUILD_FLAGS)
	@rm -rf $(C_EXAMPLE_OUT)/tiny && mkdir -p $(C_EXAMPLE_OUT)/tiny
	@printf 'pick up the coke can\n' > $(C_EXAMPLE_OUT)/tiny/tasks.txt
	$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/vlac compile --instructions $(C_EXAMPLE_OUT)/tiny/tasks.txt \
		--model Examples/hypervla-tiny/model --crop --robot google_robot -o $(C_EXAMPLE_OUT)/tiny/out
	Examples/c-robot-loop/robot_loop $$(ls $(C_EXAMPLE_OUT)/tiny/out/policies/*.vla) $(C_EXAMPLE_OUT)/tiny/out/shared

# libvlart for robots (Docs/C-API.md): a release build in its own scratch folder with the Swift runtime linked
# statically (no Swift libraries to ship, no RUNPATH), the SONAME libvlart.so.MAJOR and only the functions of
# vlart.h exported (Packaging/libvlart/vlart.map). The version comes from vlart.h.
VLART_BUILD ?= .build-vlart
VLART_HEADER := Sources/VLARuntimeC/include/vlart.h
VLART_MAJOR := $(shell sed -n 's/^\#define VLART_VERSION_MAJOR \([0-9]*\).*/\1/p' $(VLART_HEADER))
VLART_VERSION := $(VLART_MAJOR).$(shell sed -n 's/^\#define VLART_VERSION_MINOR \([0-9]*\).*/\1/p' $(VLART_HEADER)).$(shell sed -n 's/^\#define VLART_VERSION_PATCH \([0-9]*\).*/\1/p' $(VLART_HEADER))
VLART_LIB := $(VLART_BUILD)/release/libvlart.so
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include

lib: setup
	$(SWIFT) build -c release --product vlart --scratch-path $(VLART_BUILD) --disable-local-rpath -Xswiftc -static-stdlib \
		-Xlinker -soname=libvlart.so.$(VLART_MAJOR) -Xlinker --version-script=$(CURDIR)/Packaging/libvlart/vlart.map \
		$(SWIFT_BUILD_FLAGS)

# Installs the stripped library as libvlart.so.X.Y.Z with the links libvlart.so.X (the SONAME) and libvlart.so
# (for -lvlart), vlart.h, vlart.pc and the CMake package lib/cmake/vlart (imported target vlart::vlart). The
# files name PREFIX, never DESTDIR (a staging folder for packagers).
install: lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/vlart
	install -m 644 $(VLART_HEADER) $(DESTDIR)$(INCLUDEDIR)/vlart.h
	strip --strip-unneeded -o $(DESTDIR)$(LIBDIR)/libvlart.so.$(VLART_VERSION) $(VLART_LIB)
	chmod 755 $(DESTDIR)$(LIBDIR)/libvlart.so.$(VLART_VERSION)
	ln -sf libvlart.so.$(VLART_VERSION) $(DESTDIR)$(LIBDIR)/libvlart.so.$(VLART_MAJOR)
	ln -sf libvlart.so.$(VLART_MAJOR) $(DESTDIR)$(LIBDIR)/libvlart.so
	@set -e; for f in vlart.pc:pkgconfig/vlart.pc vlartConfig.cmake:cmake/vlart/vlartConfig.cmake \
		vlartConfigVersion.cmake:cmake/vlart/vlartConfigVersion.cmake; do \
		sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
			-e 's|@VERSION@|$(VLART_VERSION)|g' -e 's|@MAJOR@|$(VLART_MAJOR)|g' \
			Packaging/libvlart/$${f%%:*}.in > $(DESTDIR)$(LIBDIR)/$${f#*:}; \
	done

# Installs into a temporary prefix (and a DESTDIR), checks the library's SONAME, RUNPATH and exported symbols,
# and builds the C robot loop and a C++ consumer through pkg-config and through CMake (scripts/test-libvlart.sh).
test-lib: lib
	$(SWIFT) build --product write-demo-policy $(SWIFT_BUILD_FLAGS)
	$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/write-demo-policy $(C_EXAMPLE_OUT)
	MAKE="$(MAKE)" scripts/test-libvlart.sh $(C_EXAMPLE_OUT)/policies/demo.vla $(C_EXAMPLE_OUT)/shared

# The vlart Python package (python/): installed into .venv with pip, tested with pytest against libvlart and
# `vlac run --json`, then its lerobot-style example (Examples/python) runs an episode on the demo policy.
python-test: setup
	$(SWIFT) build --product vlart $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build --product vlac $(SWIFT_BUILD_FLAGS)
	.venv/bin/python -m pip install -q --no-deps --no-build-isolation ./python
	VLART_LIBRARY=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/libvlart.so \
		VLAC=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/vlac .venv/bin/python -m pytest -q -p no:cacheprovider python/tests
	$(MAKE) python-example

PYTHON_EXAMPLE_OUT ?= .build/python-example
python-example:
	@rm -rf $(PYTHON_EXAMPLE_OUT) && mkdir -p $(PYTHON_EXAMPLE_OUT)
	@printf 'pick up the coke can\n' > $(PYTHON_EXAMPLE_OUT)/tasks.txt
	$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/vlac compile --instructions $(PYTHON_EXAMPLE_OUT)/tasks.txt \
		--model Examples/hypervla-tiny/model --crop --robot google_robot -o $(PYTHON_EXAMPLE_OUT)/out
	VLART_LIBRARY=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/libvlart.so .venv/bin/python \
		Examples/python/lerobot_policy.py $$(ls $(PYTHON_EXAMPLE_OUT)/out/policies/*.vla) --shared $(PYTHON_EXAMPLE_OUT)/out/shared

reference: setup-reference
	@for g in Tests/Reference/gen_*.py; do \
		[ -f "$$g" ] || continue; \
		echo "reference: $$g"; \
		.venv/bin/python "$$g" || exit 1; \
	done

# Full-size random-weight t5-base and dinov2-base references (about 1 GB) into .build/reference-full;
# `VLAC_FULL_REFERENCE=1 swift test --filter FullSize` then checks them.
reference-full: setup-reference
	.venv/bin/python Tests/Reference/gen_models_reference.py --full

FUZZ_SECONDS ?= 60
fuzz: setup
	Fuzz/run.sh all $(FUZZ_SECONDS)
# Released-size HyperVLA (T5-base, DINOv2-base, 128-d 6-layer HN, 64-d 4-layer policy; random weights) with its
# goldens into .reference/hypervla-full (several GB, not committed).
reference-hypervla-full: setup-reference
	.venv/bin/python Tests/Reference/gen_hypervla_reference.py --full

# The full-size parity checks, opt-in because they need the two generated references above (about 3 GB) and take
# about 15 minutes on the shared 2-core machine: t5-base/dinov2-base against transformers (FullSizeParityTests),
# the released-size HyperVLA's generated parameters (FullSizeTests), heads (HyperVLAExampleTests) and a 12-frame
# episode through compiled policies (EpisodeParityTests), all in a release build.
test-full: setup-reference
	@[ -d .build/reference-full ] || $(MAKE) reference-full
	@[ -f .reference/hypervla-full/golden.json ] || $(MAKE) reference-hypervla-full
	VLAC_FULL_REFERENCE=1 $(SWIFT) test -c release -Xswiftc -enable-testing $(SWIFT_BUILD_FLAGS) \
		--filter "FullSize|HyperVLAExampleTests|EpisodeParityTests"

clean:
	rm -rf .build $(VLART_BUILD) $(DEMO_OUT)
