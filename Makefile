EXTENSION = rfm_segment
EXTVERSION = 0.2

MODULE_big = rfm_segment
OBJS = src/state.o src/decimal.o src/metrics.o src/scoring.o src/segments.o src/cohort.o src/analyze.o src/kmeans.o src/limits.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# Tests follow the sources.  The data suite reads the reference data sets in
# ../shared/data; a user's clone has none, so it runs only where they exist.
REGRESS = metrics metrics_state metrics_parallel scoring segments cohort analyze models kmeans errors fuzz volatility lint labels upgrade
SHARED_DATA ?= ../shared/data
ifneq ($(wildcard $(SHARED_DATA)/rfm_data_orders.csv),)
REGRESS += data_orders
endif
ifneq ($(wildcard $(SHARED_DATA)/cdnow_master.txt),)
REGRESS += data_cdnow
endif

REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter

EXTRA_CLEAN = results regression.diffs regression.out

# Every ```sql example of README.md and docs/*.md is a test: scripts/doc-tests
# writes sql/doc_<page>.sql and expected/doc_<page>.out before installcheck
# (docs/testing.md).  Pages without sql examples have no test.  They are
# listed here, once, even where a list of sql/*.sql has picked up generated
# files; doc_readme replaces the old readme test.
DOC_PAGES = $(shell grep -lE '^[[:space:]]*```sql[[:space:]]*$$' README.md docs/*.md 2>/dev/null)
DOC_TESTS = $(patsubst docs/%.md,doc_%,$(patsubst README.md,doc_readme,$(DOC_PAGES)))
REGRESS := $(filter-out doc_% readme,$(REGRESS)) $(DOC_TESTS)
REGRESS_PREP = doc-tests
EXTRA_CLEAN += $(DOC_TESTS:%=sql/%.sql) $(DOC_TESTS:%=expected/%.out)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: doc-tests bench demo stress
doc-tests:
	scripts/doc-tests $(DOC_PAGES)

bench:
	bench/run

demo:
	scripts/demo

stress:
	stress/run
