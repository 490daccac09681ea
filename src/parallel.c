/*-------------------------------------------------------------------------
 *
 * parallel.c
 *	  Parallel workers for a scan whose customers are split among the
 *	  processes by the hash of their key.
 *
 * PostgreSQL's parallel aggregation splits the rows: every worker meets
 * most customers, and the leader combines a partial state per customer
 * and worker, so that on an order log two workers gain nothing over one
 * process in a GROUP BY customer.  Here every process reads all the rows
 * and keeps the customers of its own part of the hash space (scan.c's
 * filter skips the others before any per-row work): no customer is in two
 * processes, nothing is combined, and each process's hash table is a
 * fraction of the whole, which also misses the cache less.  Reading every
 * row in every process is the price: this pays where the per-customer
 * work, not the reading, is most of the time, and with no more processes
 * than cores.
 *
 * This file owns the parallel context, the shared memory (the header, the
 * caller's spec, two queues per worker), which source may be read so, and
 * the rows a worker sends the leader as minimal tuples; the other messages
 * are the callers' (analyze_parallel.c, retention.c, clv_summary.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "compat.h"
#include "guc.h"
#include "parallel.h"
#include "scan.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* rows travel in messages of about this size */
#define ROWS_BATCH			(64 * 1024)

/* the leader's part and each worker's are bits of a 64-bit mask */
#define MAX_PARTS			64

/*
 * Each worker has a queue to the leader, for its results, and a small one
 * from the leader, for what the leader decides after the scan (breaks).
 */
#define QUEUE_SIZE			((Size) 1024 * 1024)
#define REPLY_SIZE			((Size) 64 * 1024)
#define QUEUES_SIZE			(QUEUE_SIZE + REPLY_SIZE)

/* keys of the table of contents: "RFM" and a number */
#define KEY_HEADER			UINT64CONST(0x52464D0000000001)
#define KEY_SPEC			UINT64CONST(0x52464D0000000002)
#define KEY_QUEUES			UINT64CONST(0x52464D0000000003)

typedef struct ParallelHeader
{
	int			nparts;			/* 1 + the workers planned */
} ParallelHeader;

struct RfmParallel
{
	ParallelContext *pcxt;
	int			nparts;
	shm_mq_handle **queues;		/* from the workers launched */
	shm_mq_handle **replies;	/* to them */
};

/* rfm_segment.max_parallel_workers, or the cores less one */
static int
max_workers(void)
{
	long		cores;

	if (rfm_max_parallel_workers >= 0)
		return Min(rfm_max_parallel_workers, MAX_PARTS - 1);
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 1)
		return MAX_PARTS - 1;	/* not known: PostgreSQL's rule alone */
	return (int) Min(cores - 1, MAX_PARTS - 1);
}

/*
 * How many workers a scan of relid may use: none unless every relation it
 * reads is a table (or materialized view) of this cluster that a worker can
 * read as the leader does, that is neither temporary (its buffers are the
 * leader's) nor under row-level security (a policy may call what a worker
 * must not), nor foreign, nor a view (which may call anything), nor
 * distributed by Citus (whose table here is an empty shell).  Then as
 * PostgreSQL sizes a parallel sequential scan: one worker from
 * min_parallel_table_scan_size, one more for every tripling, at most
 * max_parallel_workers_per_gather, or the table's parallel_workers.  And
 * at most rfm_segment.max_parallel_workers, by default the cores less
 * one: PostgreSQL's workers split the rows, so one more than the cores
 * costs little, but here every process reads every row, and a process
 * without a core of its own only adds reading (on 2 cores, two workers
 * were slower than one).
 *
 * The functions are PARALLEL RESTRICTED, so they run in the leader; it may
 * be in parallel mode already, when another part of the query has a
 * Gather (a model's view computes its as_of as the latest event by a
 * parallel max()).  A leader may hold several parallel contexts at once,
 * as it does for a plan with several Gather nodes, so only a worker is
 * refused: with the test on parallel mode, a model's refresh read its
 * source in one process.
 */
int
rfm_parallel_workers(Oid relid)
{
	List	   *relids;
	ListCell   *lc;
	BlockNumber pages = 0;
	int			reloption = -1;
	int			workers;
	double		threshold;

	if (max_parallel_workers_per_gather <= 0 || IsParallelWorker() ||
		!IsUnderPostmaster || rfm_relation_is_distributed(relid))
		return 0;

	relids = find_all_inheritors(relid, AccessShareLock, NULL);
	foreach(lc, relids)
	{
		Relation	rel = relation_open(lfirst_oid(lc), NoLock);
		char		kind = rel->rd_rel->relkind;
		bool		readable = (kind == RELKIND_RELATION || kind == RELKIND_MATVIEW ||
								kind == RELKIND_PARTITIONED_TABLE) &&
			rel->rd_rel->relpersistence != RELPERSISTENCE_TEMP &&
			!rel->rd_rel->relrowsecurity;

		if (readable && kind != RELKIND_PARTITIONED_TABLE)
		{
			pages += RelationGetNumberOfBlocks(rel);
			if (lfirst_oid(lc) == relid)
				reloption = RelationGetParallelWorkers(rel, -1);
		}
		relation_close(rel, NoLock);
		if (!readable)
			return 0;
	}

	if (reloption >= 0)
		workers = reloption;
	else
	{
		if (pages < (BlockNumber) min_parallel_table_scan_size)
			return 0;
		workers = 1;
		threshold = Max(min_parallel_table_scan_size, 1);
		while (pages >= threshold * 3)
		{
			workers++;
			threshold *= 3;
		}
	}
	return Min(Min(workers, max_parallel_workers_per_gather), max_workers());
}

/*
 * This process's part of a scan split among processes (after
 * rfm_customers_set_share): the rows of its customers, the key in column
 * key_column (from 0), or with nblocks (rfm_parallel_blocks) the rows of
 * its parts' ranges of blocks, each part's 1/nparts of them, the last to
 * the end of the table.
 */
void
rfm_parallel_scan_part(const char *query, const RfmCustomers *customers, int key_column,
					   BlockNumber nblocks, RfmRowUntil row, void *arg)
{
	int			nparts = rfm_customers_nparts(customers);
	uint64		parts = rfm_customers_parts(customers);

	if (nblocks == 0)
	{
		(void) rfm_scan_share(query, customers, key_column, row, arg);
		return;
	}
	for (int part = 0; part < nparts; part++)
	{
		BlockNumber first = (BlockNumber) ((uint64) nblocks * part / nparts);
		BlockNumber end = part == nparts - 1 ? InvalidBlockNumber :
			(BlockNumber) ((uint64) nblocks * (part + 1) / nparts);

		if (parts & (UINT64CONST(1) << part))
			(void) rfm_scan_blocks(query, first, end, row, arg);
	}
}

/*
 * Whether the processes of a scan split among nparts should each read
 * their own blocks of relid (rfm_segment.parallel_split), and then the
 * blocks the ranges are cut from; 0 when each reads every row and keeps
 * its part of the customers.  Reading every row costs each process the
 * whole scan: where a table stores each customer's rows together, that is
 * most of the time, and reading a range of blocks each, then moving the
 * few customers met in two ranges (exchange.c), splits it.  Where the rows
 * are spread over the table (an order log), each process would meet
 * nearly every customer, hold them all and send most of them: there,
 * keeping a part of the customers costs less.
 *
 * A TID range applies to every table the query reads: of a partitioned
 * table (or one with inheritors), each process reads the same range of
 * blocks of every partition, the ranges cut from the largest, which also
 * stands for all of them in the choice under auto.  Partitions of about
 * one size, as hash partitions are, split evenly.
 */
BlockNumber
rfm_parallel_blocks(Oid relid, const char *key_column, int nparts)
{
	BlockNumber nblocks = 0;
	Oid			largest = InvalidOid;
	ListCell   *lc;

	if (rfm_parallel_split == RFM_SPLIT_CUSTOMERS)
		return 0;
	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		Relation	rel = relation_open(lfirst_oid(lc), NoLock);

		if (rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW)
		{
			BlockNumber blocks = RelationGetNumberOfBlocks(rel);

			if (!OidIsValid(largest) || blocks > nblocks)
			{
				nblocks = blocks;
				largest = lfirst_oid(lc);
			}
		}
		relation_close(rel, NoLock);
	}
	if (!OidIsValid(largest) || nblocks < (BlockNumber) nparts)
		return 0;
	if (rfm_parallel_split == RFM_SPLIT_AUTO &&
		!rfm_source_clustered(largest, key_column, nblocks))
		return 0;
	return nblocks;
}

/*
 * Enter parallel mode and launch up to nworkers workers running function
 * (a function of this library taking the dsm_segment and shm_toc), each
 * given a copy of spec; a DEBUG1 line, under the SQL function's name
 * (caller), says how many were launched.  NULL when none was (the other
 * sessions hold max_parallel_workers): the caller reads alone.  Otherwise
 * the caller reads the workers' queues, then calls rfm_parallel_finish,
 * or rfm_parallel_cancel to stop them.
 */
RfmParallel *
rfm_parallel_begin(const char *caller, const char *function, int nworkers,
				   const void *spec, Size spec_size)
{
	RfmParallel *p = palloc0(sizeof(RfmParallel));
	ParallelContext *pcxt;
	ParallelHeader *header;
	char	   *copy;
	char	   *queues;

	Assert(nworkers > 0 && nworkers < MAX_PARTS);
	EnterParallelMode();
	pcxt = CreateParallelContext("rfm_segment", function, nworkers);
	shm_toc_estimate_chunk(&pcxt->estimator, sizeof(ParallelHeader));
	shm_toc_estimate_chunk(&pcxt->estimator, spec_size);
	shm_toc_estimate_chunk(&pcxt->estimator, mul_size(QUEUES_SIZE, nworkers));
	shm_toc_estimate_keys(&pcxt->estimator, 3);
	InitializeParallelDSM(pcxt);

	header = shm_toc_allocate(pcxt->toc, sizeof(ParallelHeader));
	header->nparts = 1 + nworkers;
	shm_toc_insert(pcxt->toc, KEY_HEADER, header);
	copy = shm_toc_allocate(pcxt->toc, spec_size);
	memcpy(copy, spec, spec_size);
	shm_toc_insert(pcxt->toc, KEY_SPEC, copy);
	queues = shm_toc_allocate(pcxt->toc, mul_size(QUEUES_SIZE, nworkers));
	for (int i = 0; i < nworkers; i++)
	{
		char	   *base = queues + i * QUEUES_SIZE;

		shm_mq_set_receiver(shm_mq_create(base, QUEUE_SIZE), MyProc);
		shm_mq_set_sender(shm_mq_create(base + QUEUE_SIZE, REPLY_SIZE), MyProc);
	}
	shm_toc_insert(pcxt->toc, KEY_QUEUES, queues);

	LaunchParallelWorkers(pcxt);
	p->pcxt = pcxt;
	p->nparts = 1 + nworkers;
	p->queues = palloc0(Max(pcxt->nworkers_launched, 1) * sizeof(shm_mq_handle *));
	p->replies = palloc0(Max(pcxt->nworkers_launched, 1) * sizeof(shm_mq_handle *));
	for (int i = 0; i < pcxt->nworkers_launched; i++)
	{
		char	   *base = queues + i * QUEUES_SIZE;

		p->queues[i] = shm_mq_attach((shm_mq *) base, pcxt->seg,
									 pcxt->worker[i].bgwhandle);
		p->replies[i] = shm_mq_attach((shm_mq *) (base + QUEUE_SIZE), pcxt->seg,
									  pcxt->worker[i].bgwhandle);
	}
	ereport(DEBUG1,
			(errmsg_internal("%s: %d of %d parallel workers launched",
							 caller, pcxt->nworkers_launched, nworkers)));
	if (pcxt->nworkers_launched == 0)
	{
		rfm_parallel_cancel(p);
		return NULL;
	}
	return p;
}

/* the number of parts the customers are split into: 1 + the workers planned */
int
rfm_parallel_parts(const RfmParallel *p)
{
	return p->nparts;
}

/*
 * The leader's parts, as a mask: its own (part 0) and those of the workers
 * that could not be launched (max_parallel_workers were busy).
 */
uint64
rfm_parallel_leader_parts(const RfmParallel *p)
{
	uint64		mask = 1;

	for (int part = 1 + p->pcxt->nworkers_launched; part < p->nparts; part++)
		mask |= UINT64CONST(1) << part;
	return mask;
}

int
rfm_parallel_launched(const RfmParallel *p)
{
	return p->pcxt->nworkers_launched;
}

/* the queue the worker (0 .. launched - 1) sends to; it owns part worker + 1 */
static shm_mq_handle *
worker_queue(const RfmParallel *p, int worker)
{
	Assert(worker >= 0 && worker < p->pcxt->nworkers_launched);
	return p->queues[worker];
}

static void
detach_queues(RfmParallel *p)
{
	for (int i = 0; i < p->pcxt->nworkers_launched; i++)
	{
		shm_mq_detach(p->queues[i]);
		shm_mq_detach(p->replies[i]);
	}
	pfree(p->queues);
	pfree(p->replies);
}

/*
 * Wait for the workers to end (an error of one is raised here, if it was
 * not already), and leave parallel mode.
 */
void
rfm_parallel_finish(RfmParallel *p)
{
	WaitForParallelWorkersToFinish(p->pcxt);
	detach_queues(p);
	DestroyParallelContext(p->pcxt);
	ExitParallelMode();
	pfree(p);
}

/* stop the workers wherever they are (their results are not wanted) */
void
rfm_parallel_cancel(RfmParallel *p)
{
	detach_queues(p);
	DestroyParallelContext(p->pcxt);
	ExitParallelMode();
	pfree(p);
}

/*
 * In a worker: the spec the leader gave, the number of parts and this
 * worker's own, the queue to send to and the one the leader replies in.
 * The spec's fixed header (header_size bytes) is copied to header; the
 * rest of the spec starts at the pointer returned.
 */
const char *
rfm_parallel_worker_attach(dsm_segment *seg, shm_toc *toc, RfmParallelWorker *worker,
						   void *header, Size header_size)
{
	ParallelHeader *shared = shm_toc_lookup(toc, KEY_HEADER, false);
	char	   *base = (char *) shm_toc_lookup(toc, KEY_QUEUES, false) +
		ParallelWorkerNumber * QUEUES_SIZE;
	shm_mq	   *mq = (shm_mq *) base;
	shm_mq	   *reply_mq = (shm_mq *) (base + QUEUE_SIZE);

	shm_mq_set_sender(mq, MyProc);
	worker->queue = shm_mq_attach(mq, seg, NULL);
	shm_mq_set_receiver(reply_mq, MyProc);
	worker->reply = shm_mq_attach(reply_mq, seg, NULL);
	worker->spec = shm_toc_lookup(toc, KEY_SPEC, false);
	worker->nparts = shared->nparts;
	worker->part = ParallelWorkerNumber + 1;
	memcpy(header, worker->spec, header_size);
	return worker->spec + header_size;
}

void
rfm_parallel_put_string(StringInfo spec, const char *str)
{
	appendBinaryStringInfo(spec, str, strlen(str) + 1);
}

/* the string at *cursor, which moves past it */
const char *
rfm_parallel_get_string(const char **cursor)
{
	const char *str = *cursor;

	*cursor += strlen(str) + 1;
	return str;
}

/* in a worker: send a message to the leader, or fail if it has gone */
void
rfm_parallel_send(shm_mq_handle *queue, const void *data, Size size)
{
	if (shm_mq_send(queue, size, data, false, true) != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("the leader of a parallel rfm_segment scan has gone")));
}

/*
 * In the leader: the next message of a worker (NULL under nowait when
 * none is waiting); the worker's error if it ended instead.
 */
void *
rfm_parallel_receive(RfmParallel *p, int worker, bool nowait, Size *nbytes)
{
	void	   *data;

	switch (shm_mq_receive(worker_queue(p, worker), nbytes, &data, nowait))
	{
		case SHM_MQ_SUCCESS:
			return data;
		case SHM_MQ_WOULD_BLOCK:
			return NULL;
		case SHM_MQ_DETACHED:
			break;
	}
	rfm_parallel_finish(p);		/* raises the worker's error */
	elog(ERROR, "a parallel worker of rfm_segment ended before its results");
	return NULL;				/* keep the compiler quiet */
}

/* in the leader: a worker's next message, which must be size bytes, into out */
void
rfm_parallel_receive_struct(RfmParallel *p, int worker, void *out, Size size)
{
	Size		nbytes;
	void	   *data = rfm_parallel_receive(p, worker, false, &nbytes);

	if (nbytes != size)
		elog(ERROR, "unexpected message of %zu bytes from a parallel worker", nbytes);
	memcpy(out, data, size);
}

/*
 * In the leader: a message to one worker (0 .. launched - 1).  One that
 * has gone has its error raised (rfm_parallel_receive).
 */
void
rfm_parallel_reply(RfmParallel *p, int worker, const void *data, Size size)
{
	if (shm_mq_send(p->replies[worker], size, data, false, true) != SHM_MQ_SUCCESS)
		(void) rfm_parallel_receive(p, worker, false, &(Size) {0});
}

/* the same message to every worker launched */

void
rfm_parallel_reply_all(RfmParallel *p, const void *data, Size size)
{
	for (int i = 0; i < p->pcxt->nworkers_launched; i++)
		if (shm_mq_send(p->replies[i], size, data, false, true) != SHM_MQ_SUCCESS)
			(void) rfm_parallel_receive(p, i, false, &(Size) {0});
}

struct RfmRowSender
{
	shm_mq_handle *queue;
	TupleDesc	desc;
	StringInfoData buf;
	MemoryContext tuple_cxt;
};

/*
 * Pad buf to the next MAXALIGN boundary, so that what follows in a message
 * (a tuple, a key, a state) is read in place.
 */
void
rfm_parallel_pad(StringInfo buf)
{
	static const char zeros[MAXIMUM_ALIGNOF] = {0};

	appendBinaryStringInfo(buf, zeros, MAXALIGN(buf->len) - buf->len);
}

/*
 * A message of rows: the kind, then per row its length and the minimal
 * tuple, each MAXALIGNed.
 */
static void
rows_restart(RfmRowSender *s)
{
	int32		kind = RFM_PARALLEL_ROWS;

	resetStringInfo(&s->buf);
	appendBinaryStringInfo(&s->buf, (const char *) &kind, sizeof(kind));
	rfm_parallel_pad(&s->buf);
}

RfmRowSender *
rfm_parallel_rows_begin(shm_mq_handle *queue, TupleDesc desc)
{
	RfmRowSender *s = palloc0(sizeof(RfmRowSender));

	s->queue = queue;
	s->desc = desc;
	initStringInfo(&s->buf);
	s->tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_segment rows sent",
										 ALLOCSET_SMALL_SIZES);
	rows_restart(s);
	return s;
}

void
rfm_parallel_send_row(RfmRowSender *s, Datum *values, bool *nulls)
{
	MemoryContext old = MemoryContextSwitchTo(s->tuple_cxt);
	MinimalTuple tuple = rfm_heap_form_minimal_tuple(s->desc, values, nulls);
	uint32		len = tuple->t_len;

	MemoryContextSwitchTo(old);
	appendBinaryStringInfo(&s->buf, (const char *) &len, sizeof(len));
	rfm_parallel_pad(&s->buf);
	appendBinaryStringInfo(&s->buf, (const char *) tuple, len);
	rfm_parallel_pad(&s->buf);
	MemoryContextReset(s->tuple_cxt);
	if (s->buf.len >= ROWS_BATCH)
	{
		rfm_parallel_send(s->queue, s->buf.data, s->buf.len);
		rows_restart(s);
	}
}

/* the rows still in the batch, then the end mark */
void
rfm_parallel_rows_end(RfmRowSender *s)
{
	int32		kind = RFM_PARALLEL_END_ROWS;

	if (s->buf.len > (int) MAXALIGN(sizeof(kind)))
		rfm_parallel_send(s->queue, s->buf.data, s->buf.len);
	rfm_parallel_send(s->queue, &kind, sizeof(kind));
	pfree(s->buf.data);
	MemoryContextDelete(s->tuple_cxt);
	pfree(s);
}

/*
 * In the leader: put a worker's rows into result, those waiting (nowait)
 * or all up to its end mark; true once the end mark has come.
 */
bool
rfm_parallel_take_rows(RfmParallel *p, int worker, bool nowait,
					   Tuplestorestate *result, TupleTableSlot *slot)
{
	for (;;)
	{
		Size		nbytes;
		const char *data = rfm_parallel_receive(p, worker, nowait, &nbytes);
		const char *end;
		int32		kind;

		if (data == NULL)
			return false;
		memcpy(&kind, data, sizeof(kind));
		if (kind == RFM_PARALLEL_END_ROWS)
			return true;
		if (kind != RFM_PARALLEL_ROWS)
			elog(ERROR, "unexpected message %d from a parallel worker", (int) kind);
		end = data + nbytes;
		for (data += MAXALIGN(sizeof(kind)); data < end;)
		{
			uint32		len;

			memcpy(&len, data, sizeof(len));
			data += MAXALIGN(sizeof(len));
			ExecStoreMinimalTuple((MinimalTuple) data, slot, false);
			tuplestore_puttupleslot(result, slot);
			data += MAXALIGN(len);
		}
		CHECK_FOR_INTERRUPTS();
	}
}
