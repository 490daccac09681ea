EXTENSION = rfm_segment
EXTVERSION = 0.3

MODULE_big = rfm_segment
OBJS = src/state.o src/decimal.o src/timeutil.o src/metrics.o src/scoring.o \
	src/segments.o src/cohort.o src/scan.o src/analyze.o src/retention.o \
	src/kmeans.o src/kmeans_fit.o src/guc.o

# As pgvector: sql/rfm_segment.sql is the current full script, built into
# the newest version's script; released scripts and upgrade steps are frozen
# files beside it.
DATA = $(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# Tests follow the sources.  The data suite reads the reference data sets in
# ../shared/data; a user's clone has none, so it runs only where they exist.
REGRESS = metrics metrics_state metrics_parallel scoring segments cohort analyze models kmeans errors fuzz volatility lint labels consistency upgrade readme
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

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# Copy every fenced sql block of the README into the readme test, so the
# manual's examples are run (and their output checked) by the suite.
.PHONY: readme bench demo stress
readme:
	scripts/readme-sql README.md > sql/readme.sql

bench:
	bench/run

demo:
	scripts/demo

stress:
	stress/run
