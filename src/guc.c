/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The extension's settings.  rfm_segment.max_memory: the memory bound of
 *	  the functions that hold a whole input at once; rfm_segment.scan: how
 *	  the one-call analysis reads a table (row by row, or a state per
 *	  customer aggregated in SQL); rfm_segment.max_parallel_workers: how
 *	  many workers a scan split by customer may launch (parallel.c);
 *	  rfm_segment.parallel_split: how they split the rows among them.
 *
 * The aggregates of layer 1 keep one fixed-size state per group, and
 * PostgreSQL's grouping spills them to disk under work_mem.  Other functions
 * cannot: rfm_analyze and rfm_snapshots, read row by row, keep every customer,
 * rfm_retention every customer's active periods, rfm_kmeans, rfm_kmeans_scan
 * and rfm_hclust every point, rfm_breaks every distinct value, the graph
 * functions the graph, rfm_clv_summary every customer and the CLV fits
 * their distinct rows, because their answers depend on all of them at
 * once; rfm_category_transitions and rfm_category_moves keep every customer
 * of their windows, rfm_next_purchase_rules its items, its largest customer
 * and its rules (docs/decisions.md has the table).  Without a bound, a large enough input would grow one
 * backend until the kernel's OOM killer ends it, and the postmaster then
 * restarts every session of the server.  rfm_segment.max_memory turns that
 * into an error of the one query, like temp_file_limit does for disk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "guc.h"

#include "utils/guc.h"

/* in kB, as work_mem: 1GB by default, at least 64kB */
#define MAX_MEMORY_DEFAULT_KB	(1024 * 1024)
#define MAX_MEMORY_MIN_KB		64

int			rfm_max_memory_kb = MAX_MEMORY_DEFAULT_KB;

/* how the functions that read a table read it (rfm_segment.scan) */
int			rfm_scan_mode = RFM_SCAN_AUTO;

/* -1: the machine's cores less one (rfm_segment.max_parallel_workers) */
int			rfm_max_parallel_workers = -1;

/* how rfm_analyze's processes split a table (rfm_segment.parallel_split) */
int			rfm_parallel_split = RFM_SPLIT_AUTO;

static const struct config_enum_entry parallel_split_options[] = {
	{"auto", RFM_SPLIT_AUTO, false},
	{"customers", RFM_SPLIT_CUSTOMERS, false},
	{"blocks", RFM_SPLIT_BLOCKS, false},
	{NULL, 0, false}
};

static const struct config_enum_entry scan_mode_options[] = {
	{"auto", RFM_SCAN_AUTO, false},
	{"rows", RFM_SCAN_ROWS, false},
	{"states", RFM_SCAN_STATES, false},
	{NULL, 0, false}
};

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("rfm_segment.max_memory",
							"Most memory one call of a function that holds its whole input (rfm_analyze, rfm_retention, clustering, rfm_breaks, the graph, journeys and CLV functions) may hold.",
							"Past it the call stops with an error instead of growing without bound.",
							&rfm_max_memory_kb,
							MAX_MEMORY_DEFAULT_KB,
							MAX_MEMORY_MIN_KB,
							MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("rfm_segment.scan",
							 "How rfm_analyze, rfm_snapshots, rfm_retention and rfm_clv_summary read the source: auto, rows or states.",
							 "rows: every row into one backend's hash table; states: one state per customer from a GROUP BY, which PostgreSQL may run in parallel, push to partitions, foreign servers and Citus shards, and spill to disk; auto: states for partitioned, foreign and distributed sources and for large ones, rows otherwise.  The answers are the same.",
							 &rfm_scan_mode,
							 RFM_SCAN_AUTO,
							 scan_mode_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("rfm_segment.max_parallel_workers",
							"Most parallel workers rfm_analyze, rfm_snapshots, rfm_retention and rfm_clv_summary launch when they read rows; -1: the cores less one.",
							"Every process reads every row and keeps its part of the customers, so processes beyond the cores add reading without adding cores.  max_parallel_workers_per_gather bounds it too.",
							&rfm_max_parallel_workers,
							-1,
							-1,
							63,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("rfm_segment.parallel_split",
							 "How the processes of rfm_analyze, rfm_snapshots, rfm_retention and rfm_clv_summary split a table they read by rows: auto, customers or blocks.",
							 "customers: every process reads every row and keeps its part of the customers (for rows spread over the table, as an order log stores them); blocks: every process reads its own blocks and sends the customers of other parts to their processes (for rows stored customer by customer); auto: blocks when a sample of the table finds customers' rows together.  The answers are the same.",
							 &rfm_parallel_split,
							 RFM_SPLIT_AUTO,
							 parallel_split_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("rfm_segment");
}

/*
 * Stop the call when it holds more than rfm_segment.max_memory.  bytes is
 * what it holds now, or is about to; hint says how to need less.
 */
void
rfm_check_memory(Size bytes, const char *function, const char *hint)
{
	if (bytes / 1024 <= (Size) rfm_max_memory_kb)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("%s needs more memory than rfm_segment.max_memory (%d kB)",
					function, rfm_max_memory_kb),
			 errdetail("It would hold %zu kB.", bytes / 1024),
			 errhint("%s, or raise rfm_segment.max_memory for this session.", hint)));
}
