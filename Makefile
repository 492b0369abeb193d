# embed: PGXS build.
#
#   make                 build embed.so and the extension script
#   make install         install them, plus the models under weights/
#   make installcheck    pg_regress against a running server
#   make unittest        build and run the C unit tests (no server)
#   make ASSERTS=1       assert-enabled build (USE_ASSERT_CHECKING)
#
# The extension script is generated from src/sql/*.sql, concatenated in name order.

EXTENSION   = embed
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" embed.control)

MODULE_big  = embed
SQL_SRCS    = $(sort $(wildcard src/sql/*.sql))
PG_SRCS     = $(sort $(wildcard src/*.c))
ENGINE_SRCS = $(sort $(wildcard src/engine/*.c))
ENGINE_OBJS = $(ENGINE_SRCS:.c=.o)
OBJS        = $(PG_SRCS:.c=.o) $(ENGINE_OBJS)

DATA_built  = $(EXTENSION)--$(EXTVERSION).sql

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

DEP_CFLAGS := $(shell pkg-config --cflags openblas libutf8proc)
DEP_LIBS   := $(shell pkg-config --libs openblas libutf8proc)

PG_CPPFLAGS = -Isrc -Isrc/engine $(DEP_CFLAGS)
PG_CFLAGS   = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-sign-compare -MMD -MP
ifdef ASSERTS
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING -DEMBED_ASSERTS
endif
SHLIB_LINK  = $(DEP_LIBS) -lm

EXTRA_CLEAN = test/c/bin build bin results regression.diffs regression.out $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
# No LLVM bitcode: JIT inlining of this library buys nothing and doubles build time.
override with_llvm = no
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SRCS) embed.control
	cat $(SQL_SRCS) > $@

# Models shipped with the extension: every folder under weights/ that holds a
# config.json is installed as $(datadir)/extension/../embed/models/<name>/.
MODEL_DIRS = $(patsubst %/config.json,%,$(wildcard weights/*/config.json))
MODEL_DEST = '$(DESTDIR)$(datadir)/embed/models'

install: install-models
.PHONY: install-models uninstall-models unittest

install-models:
	$(MKDIR_P) $(MODEL_DEST)
	@for d in $(MODEL_DIRS); do \
	  name=$$(basename $$d); \
	  rm -rf $(MODEL_DEST)/$$name; \
	  (cd weights && find $$name -type d) | while read -r sub; do $(MKDIR_P) $(MODEL_DEST)/$$sub; done; \
	  (cd weights && find $$name -type f ! -name '*.md' ! -name '*.png') | while read -r f; do \
	    $(INSTALL_DATA) weights/$$f $(MODEL_DEST)/$$f; done; \
	  echo "installed model $$name"; \
	done

uninstall: uninstall-models
uninstall-models:
	@for d in $(MODEL_DIRS); do rm -rf $(MODEL_DEST)/$$(basename $$d); done

# Training tools (src/train/, no PostgreSQL dependency): every src/train/*_main.c
# is a program bin/<name> linked with the other src/train/*.c and the engine.
TOOL_CFLAGS = -std=gnu11 -O2 -g -MMD -MP -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
              -fno-strict-aliasing -D_GNU_SOURCE -Isrc/engine -Isrc/train -Itest/c $(DEP_CFLAGS)
TOOL_LIBS   = $(DEP_LIBS) -lm -lpthread
TRAIN_LIB_SRCS = $(filter-out %_main.c,$(sort $(wildcard src/train/*.c)))
TRAIN_LIB_OBJS = $(TRAIN_LIB_SRCS:src/train/%.c=build/train/%.o)
TRAIN_PROGS    = $(patsubst src/train/%_main.c,bin/%,$(sort $(wildcard src/train/*_main.c)))

build/train/%.o: src/train/%.c $(wildcard src/train/*.h) $(wildcard src/engine/*.h)
	@mkdir -p build/train
	$(CC) $(TOOL_CFLAGS) -c -o $@ $<

bin/%: src/train/%_main.c $(TRAIN_LIB_OBJS) $(ENGINE_OBJS)
	@mkdir -p bin
	$(CC) $(TOOL_CFLAGS) -o $@ $< $(TRAIN_LIB_OBJS) $(ENGINE_OBJS) $(TOOL_LIBS)

.PHONY: tools
tools: $(TRAIN_PROGS)

# C unit tests: every test/c/test_*.c is a TAP-emitting program linked against
# the engine and training objects only (neither depends on PostgreSQL).
UNIT_SRCS = $(sort $(wildcard test/c/test_*.c))
UNIT_BINS = $(patsubst test/c/%.c,test/c/bin/%,$(UNIT_SRCS))

test/c/bin/%: test/c/%.c $(ENGINE_OBJS) $(TRAIN_LIB_OBJS) $(wildcard test/c/*.h)
	@mkdir -p test/c/bin
	$(CC) $(TOOL_CFLAGS) -o $@ $< $(ENGINE_OBJS) $(TRAIN_LIB_OBJS) $(TOOL_LIBS)

unittest: $(UNIT_BINS)
	prove --exec '' $(UNIT_BINS)

# Download (or copy from a local folder or mirror) a pinned model and verify it:
#   make weights MODEL=all-MiniLM-L6-v2 [WEIGHTS_FROM=/path/or/url] [WEIGHTS_DEST=dir]
MODEL ?= all-MiniLM-L6-v2
.PHONY: weights
weights:
	weights/fetch.sh $(MODEL) $(if $(WEIGHTS_FROM),--from '$(WEIGHTS_FROM)') $(if $(WEIGHTS_DEST),--dest '$(WEIGHTS_DEST)')

# Header dependencies written by -MMD.
-include $(OBJS:.o=.d) $(TRAIN_LIB_OBJS:.o=.d) $(UNIT_BINS:=.d) $(TRAIN_PROGS:=.d)
