/*-------------------------------------------------------------------------
 *
 * scan.h
 *	  The machinery every set-returning function that reads a table
 *	  shares: argument and column checks, the scan itself, and a table of
 *	  customers keyed by the customer column's own values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SCAN_H
#define RFM_SCAN_H

#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "storage/block.h"

/* arguments and columns */
extern Oid	rfm_source_arg(FunctionCallInfo fcinfo, int argno);
extern const char *rfm_column_arg(FunctionCallInfo fcinfo, int argno,
								  const char *argname, bool required);
extern Oid	rfm_column_type(Oid relid, const char *column, const char *argname,
							Oid *collation);
extern Oid	rfm_time_column_type(Oid relid, const char *column,
								 const char *argname);
extern void rfm_check_number_column(Oid relid, const char *column,
									const char *argname);
extern char *rfm_relation_name(Oid relid);
extern bool rfm_relation_is_distributed(Oid relid);
extern float8 rfm_relation_rows(Oid relid);
extern bool rfm_source_clustered(Oid relid, const char *column,
								 BlockNumber nblocks);
extern bool rfm_read_by_states(Oid relid, const char *column,
							   float8 bytes_per_customer);
extern bool rfm_customers_fit_estimate(Oid relid, const char *column,
									   float8 bytes_per_customer);
extern bool rfm_source_is_remote(Oid relid);

/*
 * A customer key as text in SQL, as rfm_customers_key_text gives it: the
 * type's output function (a cast to text is not that for every type: bool
 * gives 'true', bpchar drops its padding, inet shows the mask), NULL for
 * the NULL key.  For a printf-style format (its %% is format()'s %); expr
 * must be a plain column reference, since it appears twice.
 */
#define RFM_KEY_TEXT(expr) \
	"CASE WHEN " expr " IS NOT NULL THEN pg_catalog.format('%%s', " expr ") END"

/* reading the source, as the caller */
typedef void (*RfmRowCallback) (TupleTableSlot *slot, void *arg);

extern uint64 rfm_scan(const char *query, RfmRowCallback row, void *arg);
extern uint64 rfm_scan_params(const char *query, int nargs, Oid *argtypes,
							  Datum *values, bool parallel_ok,
							  RfmRowCallback row, void *arg);
extern uint64 rfm_scan_states(Oid relid, const char *query, int nargs, Oid *argtypes,
							  Datum *values, RfmRowCallback row, void *arg);
extern Oid	rfm_schema_type(Oid namespace, const char *type_name);
extern Datum rfm_schema_row(Oid namespace, const char *type_name,
							Datum *values, bool *nulls, Oid *typid);
extern bool rfm_latest_time(Oid relid, const char *time_column,
							TimestampTz *latest);

/* a callback that may stop the scan: false, and no more rows come */
typedef bool (*RfmRowUntil) (TupleTableSlot *slot, void *arg);

extern uint64 rfm_scan_until(const char *query, RfmRowUntil row, void *arg);
extern uint64 rfm_scan_blocks(const char *query, BlockNumber first,
							  BlockNumber end, RfmRowUntil row, void *arg);
extern uint64 rfm_scan_until_params(Oid relid, const char *query, int nargs,
									Oid *argtypes, Datum *values, RfmRowUntil row,
									void *arg);
extern uint64 rfm_scan_states_until(Oid relid, const char *query, int nargs,
									Oid *argtypes, Datum *values, RfmRowUntil until,
									void *arg);

/* the customers of a scan */
typedef struct RfmCustomers RfmCustomers;

extern RfmCustomers *rfm_customers_create(Oid relid, const char *column,
										  Size payload_size,
										  const char *function,
										  const char *memory_hint);
extern void *rfm_customers_lookup(RfmCustomers *customers, Datum key,
								  bool isnull, bool *found);
extern uint64 rfm_customers_count(const RfmCustomers *customers);
extern void *rfm_customers_payload(const RfmCustomers *customers, uint64 i);
extern Datum rfm_customers_key(const RfmCustomers *customers, uint64 i,
							   bool *isnull);
extern Datum rfm_customers_key_text(const RfmCustomers *customers, uint64 i,
									bool *isnull);
extern MemoryContext rfm_customers_context(const RfmCustomers *customers);
extern bool rfm_customers_check_memory(RfmCustomers *customers);
extern void rfm_customers_check_more(RfmCustomers *customers, Size extra);
extern void rfm_customers_set_soft_limit(RfmCustomers *customers);
extern void rfm_customers_freeze(RfmCustomers *customers);
extern int	rfm_customers_part_of(const RfmCustomers *customers, Datum key,
								  bool isnull, int nparts);
extern bool rfm_customers_fit_more(const RfmCustomers *customers, Size extra);
extern void rfm_customers_free(RfmCustomers *customers);

/* the customers split among parallel processes (parallel.c) */
extern void rfm_customers_set_share(RfmCustomers *customers, int nparts,
									uint64 parts);
extern int	rfm_customers_nparts(const RfmCustomers *customers);
extern uint64 rfm_customers_parts(const RfmCustomers *customers);
extern int	rfm_customers_part(const RfmCustomers *customers, uint64 i);
extern uint32 rfm_customers_hash(const RfmCustomers *customers, uint64 i);
extern void rfm_customers_remove(RfmCustomers *customers, const bool *removed);
extern void rfm_customers_write_key(const RfmCustomers *customers, uint64 i,
									StringInfo buf);
extern Datum rfm_customers_read_key(const RfmCustomers *customers,
									const char **cursor, bool *isnull);
extern uint64 rfm_scan_share(const char *query, const RfmCustomers *customers,
							 int key_column, RfmRowUntil row, void *arg);

#endif							/* RFM_SCAN_H */
