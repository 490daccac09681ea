EXTENSION = rfm_segment
EXTVERSION = 0.3

MODULE_big = rfm_segment
OBJS = src/state.o src/decimal.o src/timeutil.o src/metrics.o src/scoring.o \
	src/segments.o src/cohort.o src/scan.o src/direct_scan.o src/analyze.o src/analyze_states.o src/retention.o \
	src/kmeans.o src/kmeans_fit.o src/guc.o src/graph.o src/leiden.o \
	src/graph_input.o src/communities.o src/recommend.o src/lookalike.o \
	src/dictionary.o src/journey.o src/journey_state.o src/transitions.o src/next_purchase.o \
	src/points.o src/features.o src/cluster_model.o src/cluster_quality.o \
	src/hclust.o src/hclust_fit.o src/hclust_model.o src/cluster_profile.o src/shares.o \
	src/clv_special.o src/clv_model.o src/clv_fit.o src/clv.o src/clv_summary.o \
	src/clv_holdout.o src/breaks_state.o src/incremental.o src/periods.o \
	src/purchases.o src/spec.o src/parallel.o src/exchange.o src/analyze_parallel.o

# As pgvector: sql/rfm_segment.sql is the current full script, built into
# the newest version's script; released scripts and upgrade steps are frozen
# files beside it.
DATA = $(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# Every test file in sql/ runs, in alphabetical order.  The data tests read
# the reference data sets in $(SHARED_DATA); a user's clone has none, so
# they run only where the data exists.
SHARED_DATA ?= ../shared/data
TESTS = $(sort $(filter-out $(EXTENSION)% data_% doc_%,$(notdir $(basename $(wildcard sql/*.sql)))))
DATA_TESTS = $(if $(wildcard $(SHARED_DATA)/rfm_data_orders.csv),data_orders) \
	$(if $(wildcard $(SHARED_DATA)/cdnow_master.txt),data_cdnow data_outcomes) \
	$(if $(wildcard $(SHARED_DATA)/rfm_data_orders.csv),data_hclust) \
	$(if $(wildcard $(SHARED_DATA)/cdnow_sample.txt),data_clv)
REGRESS = $(TESTS) $(strip $(DATA_TESTS))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# What the tests read from the environment: the data sets, and a directory
# of this run's own for the files they write (a fixed /tmp path fails when
# another user owns it).  scripts/test passes a fresh one.
RFM_TEST_TMP ?= $(CURDIR)/results/tmp
export RFM_SHARED_DATA = $(abspath $(SHARED_DATA))
export RFM_TEST_TMP

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
REGRESS_PREP = doc-tests tmpdir
EXTRA_CLEAN += $(DOC_TESTS:%=sql/%.sql) $(DOC_TESTS:%=expected/%.out)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

.PHONY: doc-tests tmpdir bench demo stress
doc-tests:
	scripts/doc-tests $(DOC_PAGES)

tmpdir:
	mkdir -p $(RFM_TEST_TMP)

bench:
	bench/run

demo:
	scripts/demo

stress:
	stress/run
