/*-------------------------------------------------------------------------
 *
 * parallel.h
 *	  Parallel workers for a scan whose customers are split among the
 *	  processes by the hash of their key.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_PARALLEL_H
#define RFM_PARALLEL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "storage/block.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "utils/tuplestore.h"

#include "scan.h"

typedef struct RfmParallel RfmParallel;

extern int	rfm_parallel_workers(Oid relid);
extern BlockNumber rfm_parallel_blocks(Oid relid, const char *key_column,
									   int nparts);
extern void rfm_parallel_scan_part(const char *query, const RfmCustomers *customers,
								   int key_column, BlockNumber nblocks,
								   RfmRowUntil row, void *arg);
extern RfmParallel *rfm_parallel_begin(const char *caller, const char *function,
									   int nworkers, const void *spec, Size spec_size);
extern int	rfm_parallel_parts(const RfmParallel *parallel);
extern uint64 rfm_parallel_leader_parts(const RfmParallel *parallel);
extern int	rfm_parallel_launched(const RfmParallel *parallel);
extern void rfm_parallel_finish(RfmParallel *parallel);
extern void rfm_parallel_cancel(RfmParallel *parallel);

/* what a worker is given: the leader's spec, its part, its queues */
typedef struct RfmParallelWorker
{
	const char *spec;
	int			nparts;
	int			part;			/* 1 .. nparts - 1 */
	shm_mq_handle *queue;		/* to the leader */
	shm_mq_handle *reply;		/* from it */
} RfmParallelWorker;

extern const char *rfm_parallel_worker_attach(dsm_segment *seg, shm_toc *toc,
											  RfmParallelWorker *worker,
											  void *header, Size header_size);

/*
 * Messages.  Each starts with an int32 kind: the caller's own kinds are
 * small numbers, these two are the rows a worker sends as minimal tuples.
 */
#define RFM_PARALLEL_ROWS		0x524F5753	/* "ROWS" */
#define RFM_PARALLEL_END_ROWS	0x454E4452	/* "ENDR" */

extern void rfm_parallel_send(shm_mq_handle *queue, const void *data, Size size);
extern void *rfm_parallel_receive(RfmParallel *parallel, int worker, bool nowait,
								  Size *nbytes);
extern void rfm_parallel_receive_struct(RfmParallel *parallel, int worker, void *out,
										Size size);
extern void rfm_parallel_reply(RfmParallel *parallel, int worker,
							   const void *data, Size size);
extern void rfm_parallel_reply_all(RfmParallel *parallel, const void *data, Size size);

/* a worker's rows to the leader, in batches, then the end mark */
typedef struct RfmRowSender RfmRowSender;

extern RfmRowSender *rfm_parallel_rows_begin(shm_mq_handle *queue, TupleDesc desc);
extern void rfm_parallel_send_row(RfmRowSender *sender, Datum *values, bool *nulls);
extern void rfm_parallel_rows_end(RfmRowSender *sender);
extern bool rfm_parallel_take_rows(RfmParallel *parallel, int worker, bool nowait,
								   Tuplestorestate *result, TupleTableSlot *slot);

/* strings in a spec: each ends in a zero byte */
extern void rfm_parallel_pad(StringInfo buf);
extern void rfm_parallel_put_string(StringInfo spec, const char *str);
extern const char *rfm_parallel_get_string(const char **cursor);

#endif							/* RFM_PARALLEL_H */
