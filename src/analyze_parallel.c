/*-------------------------------------------------------------------------
 *
 * analyze_parallel.c
 *	  rfm_analyze and rfm_snapshots by rows in parallel workers.
 *
 * Every process (the leader and each worker) reads all the rows and keeps
 * the customers whose key hashes into its part (parallel.c, scan.c's
 * share), through the same rfm_analysis_add_row as one backend.  The
 * customers of two processes never meet, so nothing is combined; what is
 * shared is the breaks, which need every customer's values.  So, per
 * snapshot, each worker sends the leader the values it scores (three
 * float8 per customer), the leader cuts the breaks over them and its own
 * and replies with them, and then every process forms the rows of its own
 * customers, the workers sending theirs to the leader as minimal tuples,
 * which the leader puts into the result beside its own.  The scan, the
 * scores and the forming of the rows, which are nearly all of the time,
 * run in every process; the leader alone cuts the breaks and stores the
 * rows.
 *
 * The rows and their values equal one backend's: the same code makes each
 * customer's state and row, and the breaks are cut over the same values
 * (rfm_compute_breaks sorts them).  Only the order of the rows differs.
 *
 * Where a table stores each customer's rows together (loaded customer by
 * customer), reading every row is most of each process's time, so the
 * processes split the blocks instead (parallel.c's rfm_parallel_blocks):
 * each reads its own range of blocks (a TID range scan) into states of
 * every customer it meets, then sends the customers of other parts to
 * their processes, through the leader, which merges them as the parallel
 * aggregate merges states (rfm_state_merge).  From there on each process
 * holds its own part's customers, whole, and the rest is the same.  Rows
 * spread over the table would make every process meet nearly every
 * customer and send most of them; there the split by customer stays.
 *
 * Memory: each process holds its own customers under
 * rfm_segment.max_memory, so all of them together may hold up to that
 * much per process; under rfm_segment.scan = 'auto' any process passing it
 * sends the analysis to the states way, as one backend does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "analyze.h"
#include "guc.h"
#include "parallel.h"
#include "scan.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

/*
 * The worker's spec: what rfm_analysis_add_row, the scores and the rows
 * need, flattened.  This header, then as_of, period_start and as_of_input
 * per snapshot, then the query, the customer column and the function's
 * name, each ending in a zero byte, then the compiled segment map (the
 * worker does not read the rule table: rfm_segment_map_write).
 */
typedef struct WorkerSpec
{
	Oid			relid;
	Oid			function_oid;	/* its result type is the rows' */
	bool		is_date;
	bool		has_amount;
	bool		has_weight;
	bool		with_as_of;
	int			nsnapshots;
	int			bins;
	RfmScoreMethod method;
	Interval	last_period;
	RfmRefunds	refunds;
	BlockNumber nblocks;		/* read by blocks: the table's; else 0 */
} WorkerSpec;

/*
 * messages: each starts with its kind; a snapshot's rows are parallel.c's
 * (rfm_parallel_send_row)
 */
typedef enum MessageKind
{
	MSG_SCANNED,				/* worker: the scan is done (Scanned) */
	MSG_VALUES,					/* worker: one dimension's values of a snapshot */
	MSG_BREAKS,					/* leader: the breaks of a snapshot */
	MSG_STOP,					/* leader: stop, the analysis reads by states */
	MSG_HASHES,					/* worker: its customers' hashes */
	MSG_SHARED,					/* leader: the hashes two processes met */
	MSG_CUSTOMERS,				/* both ways: customers of another part */
	MSG_CUSTOMERS_END,			/* both ways: no more of them */
	MSG_MERGED					/* worker: the customers sent to it are in */
} MessageKind;

/*
 * A message of customers is its kind, MAXALIGNed, then customers, each a
 * Record, its key (rfm_customers_write_key) and its state per snapshot
 * (VARSIZE bytes each, MAXALIGNed).  A Record's len covers all of it.
 */
typedef struct Record
{
	int32		part;			/* the process that keeps it */
	int32		len;
} Record;

#define MESSAGE_HEADER		((int) MAXALIGN(sizeof(MessageKind)))
#define RECORD_HEADER		((int) MAXALIGN(sizeof(Record)))

/* customers are sent in messages of about this size */
#define BATCH_SIZE			(64 * 1024)

/* a message of hashes: this, MAXALIGNed, then n uint32 */
typedef struct Hashes
{
	MessageKind kind;
	int64		n;
} Hashes;

#define HASHES_HEADER		MAXALIGN(sizeof(Hashes))


typedef struct Merged
{
	MessageKind kind;
	bool		overflow;
} Merged;

typedef struct Scanned
{
	MessageKind kind;
	bool		overflow;
	bool		any_event;
	int64		earliest;
	int64		latest;
} Scanned;

typedef struct ValuesHeader
{
	MessageKind kind;
	int			dim;
	int64		n;				/* distinct values */
	int64		total;			/* values */
	/* n RfmValueCount follow, sorted, MAXALIGNed */
} ValuesHeader;

typedef struct Breaks
{
	MessageKind kind;
	int			snap;
	float8		breaks[NDIMS][RFM_MAX_BINS];
} Breaks;

/* the leader takes the workers' rows every so many rows of its own */
#define DRAIN_EVERY			1024

PGDLLEXPORT void rfm_analyze_worker(dsm_segment *seg, shm_toc *toc);

static char *
worker_spec(FunctionCallInfo fcinfo, const AnalyzeSpec *spec, bool with_as_of,
			const char *query, BlockNumber nblocks, Size *size)
{
	StringInfoData buf;
	WorkerSpec	header;
	int			n = spec->nsnapshots;

	memset(&header, 0, sizeof(header));
	header.relid = spec->relid;
	header.function_oid = fcinfo->flinfo->fn_oid;
	header.is_date = spec->is_date;
	header.has_amount = spec->columns[COL_AMOUNT] != NULL;
	header.has_weight = spec->columns[COL_WEIGHT] != NULL;
	header.with_as_of = with_as_of;
	header.nsnapshots = n;
	header.bins = spec->bins;
	header.method = spec->method;
	header.last_period = spec->last_period;
	header.refunds = spec->refunds;
	header.nblocks = nblocks;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) spec->as_of, n * sizeof(int64));
	appendBinaryStringInfo(&buf, (const char *) spec->period_start, n * sizeof(int64));
	appendBinaryStringInfo(&buf, (const char *) spec->as_of_input, n * sizeof(TimestampTz));
	rfm_parallel_put_string(&buf, query);
	rfm_parallel_put_string(&buf, spec->columns[COL_KEY]);
	rfm_parallel_put_string(&buf, spec->function);
	rfm_segment_map_write(spec->segments, &buf);
	*size = buf.len;
	return buf.data;
}

/*
 * The worker's AnalyzeSpec, its query and its result's row type, from the
 * spec's header and what follows it (p)
 */
static const char *
read_worker_spec(const WorkerSpec *header, const char *p, AnalyzeSpec *spec,
				 bool *with_as_of, TupleDesc *desc)
{
	const char *query;
	Oid			type;
	int			n;

	n = header->nsnapshots;
	memset(spec, 0, sizeof(AnalyzeSpec));
	spec->relid = header->relid;
	spec->is_date = header->is_date;
	spec->nsnapshots = n;
	spec->bins = header->bins;
	spec->method = header->method;
	spec->last_period = header->last_period;
	spec->refunds = header->refunds;
	spec->as_of = palloc(n * sizeof(int64));
	memcpy(spec->as_of, p, n * sizeof(int64));
	p += n * sizeof(int64);
	spec->period_start = palloc(n * sizeof(int64));
	memcpy(spec->period_start, p, n * sizeof(int64));
	p += n * sizeof(int64);
	spec->as_of_input = palloc(n * sizeof(TimestampTz));
	memcpy(spec->as_of_input, p, n * sizeof(TimestampTz));
	p += n * sizeof(TimestampTz);
	query = rfm_parallel_get_string(&p);
	spec->columns[COL_KEY] = rfm_parallel_get_string(&p);
	/* the scores ask only whether there are amount and weight columns */
	spec->columns[COL_AMOUNT] = header->has_amount ? "" : NULL;
	spec->columns[COL_WEIGHT] = header->has_weight ? "" : NULL;
	spec->function = rfm_parallel_get_string(&p);
	spec->segments = rfm_segment_map_read(&p, CurrentMemoryContext);
	*with_as_of = header->with_as_of;
	if (get_func_result_type(header->function_oid, &type, desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s does not return rows", spec->function);
	return query;
}

/*
 * One dimension's values of the scored customers, sorted and counted
 * (rfm_compact_values): the leader merges them with its own instead of
 * sorting every customer's value itself.
 */
static void
send_values(shm_mq_handle *queue, const AnalyzeScored *scored, uint64 n, int d)
{
	Size		offset = MAXALIGN(sizeof(ValuesHeader));
	char	   *message = palloc_extended(offset + Max(n, 1) * sizeof(RfmValueCount),
										  MCXT_ALLOC_HUGE);
	ValuesHeader *header = (ValuesHeader *) message;
	RfmValueCount *items = (RfmValueCount *) (message + offset);

	header->kind = MSG_VALUES;
	header->dim = d;
	header->total = rfm_analysis_collect(scored, n, d, items);
	header->n = rfm_compact_values(items, (int) header->total);
	rfm_parallel_send(queue, message, offset + header->n * sizeof(RfmValueCount));
	pfree(message);
}

/* merge two sorted, counted lists of values into out; returns its length */
static int64
merge_values(const RfmValueCount *a, int64 na, const RfmValueCount *b, int64 nb,
			 RfmValueCount *out)
{
	int64		i = 0,
				j = 0,
				n = 0;

	while (i < na || j < nb)
	{
		if (j == nb || (i < na && a[i].value < b[j].value))
			out[n++] = a[i++];
		else if (i == na || b[j].value < a[i].value)
			out[n++] = b[j++];
		else
		{
			out[n] = a[i++];
			out[n++].count += b[j++].count;
		}
	}
	return n;
}

/*
 * This process's part of the rows: those of its customers (split by
 * customer), or of its parts' ranges of blocks (split by blocks: nblocks
 * the table's), each part's range 1/nparts of the blocks, the last one to
 * the end of the table.
 */
static void
scan_part(AnalyzeState *st, const char *query, BlockNumber nblocks, int nparts,
		  uint64 parts)
{
	rfm_customers_set_share(st->customers, nparts, parts);
	if (nblocks == 0)
	{
		(void) rfm_scan_share(query, st->customers, COL_KEY, rfm_analysis_add_row, st);
		return;
	}
	for (int part = 0; part < nparts && !st->overflow; part++)
	{
		BlockNumber first = (BlockNumber) ((uint64) nblocks * part / nparts);
		BlockNumber end = part == nparts - 1 ? InvalidBlockNumber :
			(BlockNumber) ((uint64) nblocks * (part + 1) / nparts);

		if (parts & (UINT64CONST(1) << part))
			(void) rfm_scan_until(rfm_query_blocks(query, first, end),
								  rfm_analysis_add_row, st);
	}
}

static void
pad(StringInfo buf)
{
	static const char zeros[MAXIMUM_ALIGNOF] = {0};

	appendBinaryStringInfo(buf, zeros, MAXALIGN(buf->len) - buf->len);
}

/* an empty message of customers */
static void
start_customers(StringInfo buf)
{
	MessageKind kind = MSG_CUSTOMERS;

	resetStringInfo(buf);
	appendBinaryStringInfo(buf, (const char *) &kind, sizeof(kind));
	pad(buf);
}

/* the i-th customer, whole, into a message of customers for its part */
static void
append_customer(StringInfo buf, const AnalyzeState *st, uint64 i, int part)
{
	RfmCustomerStates *states = rfm_customers_payload(st->customers, i);
	int			start = buf->len;
	Record		record;

	record.part = part;
	record.len = 0;
	appendBinaryStringInfo(buf, (const char *) &record, sizeof(record));
	pad(buf);
	rfm_customers_write_key(st->customers, i, buf);
	for (int snap = 0; snap < st->spec->nsnapshots; snap++)
	{
		appendBinaryStringInfo(buf, (const char *) states[snap], VARSIZE(states[snap]));
		pad(buf);
	}
	record.len = buf->len - start;
	memcpy(buf->data + start, &record, sizeof(record));
}

/*
 * A customer from another process into this one's: its states are added to
 * those of the same customer here, or become this customer's.  A state may
 * grow (a sum past 38 digits): then it moves to the customers' memory, as
 * in rfm_analysis_add_row.  False past max_memory under a soft limit.
 */
static bool
merge_customer(AnalyzeState *st, const char *p)
{
	AnalyzeSpec *spec = st->spec;
	MemoryContext cxt = rfm_customers_context(st->customers);
	RfmCustomerStates *states;
	bool		isnull;
	bool		found;
	Datum		key = rfm_customers_read_key(st->customers, &p, &isnull);

	states = rfm_customers_lookup(st->customers, key, isnull, &found);
	if (states == NULL)
		return false;
	for (int i = 0; i < spec->nsnapshots; i++)
	{
		const RfmState *theirs = (const RfmState *) p;
		RfmState   *state;

		p += MAXALIGN(VARSIZE(theirs));
		if (!found)
		{
			states[i] = (RfmState *) ((char *) states + st->states_offset +
									  i * rfm_state_size());
			if (VARSIZE(theirs) <= rfm_state_size())
			{
				memcpy(states[i], theirs, VARSIZE(theirs));
				continue;
			}
			state = (RfmState *) theirs;
		}
		else
		{
			state = rfm_state_merge(states[i], theirs);
			if (state == states[i])
				continue;
		}
		states[i] = MemoryContextAllocHuge(cxt, VARSIZE(state));
		memcpy(states[i], state, VARSIZE(state));
	}
	return true;
}

/*
 * The customers of a message into this process (those of the parts in
 * mine), and in the leader the others into relay, per worker, for their
 * processes.  False past max_memory (st->overflow).
 */
static bool
merge_customers(AnalyzeState *st, const char *message, Size nbytes, uint64 mine,
				StringInfo relay)
{
	const char *p = message + MESSAGE_HEADER;
	const char *end = message + nbytes;

	while (p < end)
	{
		Record		record;

		memcpy(&record, p, sizeof(record));
		if (record.len <= 0 || record.part < 0 || record.part >= 64 || p + record.len > end)
			elog(ERROR, "malformed message of customers from a parallel process");
		if (mine & (UINT64CONST(1) << record.part))
		{
			if (!merge_customer(st, p + RECORD_HEADER))
			{
				st->overflow = true;
				return false;
			}
		}
		else if (relay != NULL)
			appendBinaryStringInfo(&relay[record.part - 1], p, record.len);
		else
			elog(ERROR, "parallel worker received a customer of part %d", record.part);
		p += record.len;
	}
	return true;
}

/*
 * Sort n hashes, a radix sort of 11 bits a pass: the hashes of a million
 * customers sort in a few milliseconds, where a comparison sort took tens
 * while the other processes wait for them.
 */
#define RADIX_BITS	11
#define RADIX		(1 << RADIX_BITS)

static void
sort_hashes(uint32 *hashes, int64 n)
{
	uint32	   *other = palloc_extended(Max(n, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	uint32	   *from = hashes;
	uint32	   *to = other;

	for (int shift = 0; shift < 32; shift += RADIX_BITS)
	{
		int64		start[RADIX + 1];
		uint32	   *swap;

		memset(start, 0, sizeof(start));
		for (int64 i = 0; i < n; i++)
			start[((from[i] >> shift) & (RADIX - 1)) + 1]++;
		for (int b = 1; b <= RADIX; b++)
			start[b] += start[b - 1];
		for (int64 i = 0; i < n; i++)
			to[start[(from[i] >> shift) & (RADIX - 1)]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	if (from != hashes)
		memcpy(hashes, from, n * sizeof(uint32));
	pfree(other);
}

/*
 * The hashes of this process's customers (rfm_customers_hash), in the
 * table's order (*by_customer), and sorted without repeats (returned, *n of
 * them): other processes' lists tell which customers two processes met.
 */
static uint32 *
customer_hashes(const AnalyzeState *st, uint32 **by_customer, int64 *n)
{
	uint64		count = rfm_customers_count(st->customers);
	uint32	   *hashes = palloc_extended(Max(count, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	uint32	   *sorted = palloc_extended(Max(count, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);

	rfm_customers_check_more(st->customers, 2 * count * sizeof(uint32));
	for (uint64 i = 0; i < count; i++)
		hashes[i] = rfm_customers_hash(st->customers, i);
	memcpy(sorted, hashes, count * sizeof(uint32));
	sort_hashes(sorted, count);
	*n = count == 0 ? 0 : 1;
	for (uint64 i = 1; i < count; i++)
		if (sorted[i] != sorted[*n - 1])
			sorted[(*n)++] = sorted[i];
	*by_customer = hashes;
	return sorted;
}

/* a message of hashes: its kind, their number, then the hashes */
static void
send_hashes(shm_mq_handle *queue, MessageKind kind, const uint32 *hashes, int64 n)
{
	Size		size = HASHES_HEADER + n * sizeof(uint32);
	char	   *message = palloc_extended(size, MCXT_ALLOC_HUGE);
	Hashes		header;

	header.kind = kind;
	header.n = n;
	memcpy(message, &header, sizeof(header));
	memcpy(message + HASHES_HEADER, hashes, n * sizeof(uint32));
	rfm_parallel_send(queue, message, size);
	pfree(message);
}

/* the hashes of a message of hashes of that kind, *n of them, in place */
static const uint32 *
read_hashes(const void *message, Size nbytes, MessageKind kind, int64 *n)
{
	Hashes		header;

	memcpy(&header, message, sizeof(header));
	if (header.kind != kind || nbytes != HASHES_HEADER + header.n * sizeof(uint32))
		elog(ERROR, "unexpected message %d from a parallel process", (int) header.kind);
	*n = header.n;
	return (const uint32 *) ((const char *) message + HASHES_HEADER);
}

static bool
is_shared(uint32 hash, const uint32 *shared, int64 nshared)
{
	int64		lo = 0,
				hi = nshared;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (shared[mid] < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nshared && shared[lo] == hash;
}

/*
 * This process's customers that another process met too, and that belong
 * to another part, into messages for their processes (through send, one
 * message of customers per part's process), and marked in sent.  The
 * others stay here: where each customer's rows lie together, nearly all.
 */
typedef void (*SendCustomers) (void *arg, int part, StringInfo buf, bool last);

static void
send_shared(AnalyzeState *st, const uint32 *by_customer, uint64 n,
			const uint32 *shared, int64 nshared, uint64 mine, StringInfo out,
			int nout, bool *sent, SendCustomers send, void *arg)
{
	for (int o = 0; o < nout; o++)
		start_customers(&out[o]);
	for (uint64 i = 0; i < n; i++)
	{
		int			part;
		StringInfo	buf;

		if (!is_shared(by_customer[i], shared, nshared))
			continue;
		part = rfm_customers_part(st->customers, i);
		if (mine & (UINT64CONST(1) << part))
			continue;
		buf = &out[nout == 1 ? 0 : part - 1];
		append_customer(buf, st, i, part);
		sent[i] = true;
		if (buf->len >= BATCH_SIZE)
		{
			send(arg, part, buf, false);
			start_customers(buf);
		}
	}
	for (int o = 0; o < nout; o++)
		send(arg, o + 1, &out[o], true);
}

/* a worker's messages of customers go to the leader */
static void
worker_send(void *arg, int part, StringInfo buf, bool last)
{
	shm_mq_handle *queue = (shm_mq_handle *) arg;
	MessageKind end = MSG_CUSTOMERS_END;

	if (buf->len > MESSAGE_HEADER)
		rfm_parallel_send(queue, buf->data, buf->len);
	if (last)
		rfm_parallel_send(queue, &end, sizeof(end));
}

/* the leader's go to the worker of the part */
static void
leader_send(void *arg, int part, StringInfo buf, bool last)
{
	RfmParallel *parallel = (RfmParallel *) arg;
	MessageKind end = MSG_CUSTOMERS_END;

	if (buf->len > MESSAGE_HEADER)
		rfm_parallel_reply(parallel, part - 1, buf->data, buf->len);
	if (last)
		rfm_parallel_reply(parallel, part - 1, &end, sizeof(end));
}

/*
 * A worker split by blocks: the hashes of its customers to the leader, the
 * hashes met by two processes back; the customers it met in common with
 * another process that belong to another part to the leader, then those of
 * its own part that the others met, merged in.  False when it stops (past
 * max_memory, or the leader has gone).
 */
static bool
worker_exchange(RfmParallelWorker *w, AnalyzeState *st)
{
	StringInfoData buf;
	Merged		merged;
	uint64		n = rfm_customers_count(st->customers);
	uint32	   *by_customer;
	int64		nhashes;
	uint32	   *hashes = customer_hashes(st, &by_customer, &nhashes);
	const uint32 *shared;
	int64		nshared;
	Size		nbytes;
	void	   *data;
	bool	   *sent;

	send_hashes(w->queue, MSG_HASHES, hashes, nhashes);
	pfree(hashes);
	if (shm_mq_receive(w->reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
		return false;			/* the leader has gone */
	shared = read_hashes(data, nbytes, MSG_SHARED, &nshared);

	sent = palloc_extended(Max(n, 1) * sizeof(bool), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	initStringInfo(&buf);
	send_shared(st, by_customer, n, shared, nshared, UINT64CONST(1) << w->part, &buf, 1,
				sent, worker_send, w->queue);
	pfree(buf.data);
	pfree(by_customer);
	rfm_customers_remove(st->customers, sent);
	pfree(sent);

	for (;;)
	{
		MessageKind kind;

		if (shm_mq_receive(w->reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			return false;
		memcpy(&kind, data, sizeof(kind));
		if (kind == MSG_CUSTOMERS_END)
			break;
		if (kind != MSG_CUSTOMERS)
			return false;		/* MSG_STOP */
		if (!merge_customers(st, data, nbytes, UINT64CONST(1) << w->part, NULL))
			break;
	}
	rfm_analysis_check_scores(st);
	merged.kind = MSG_MERGED;
	merged.overflow = st->overflow;
	rfm_parallel_send(w->queue, &merged, sizeof(merged));
	return !st->overflow;
}

/*
 * The hashes that two processes or more met, sorted, from the leader's and
 * the workers' sorted lists: each list is merged into the union of those
 * before it, and what it has in common with that union is met twice.
 */
static uint32 *
shared_hashes(AnalyzeState *st, RfmParallel *parallel, int nworkers,
			  uint32 *own, int64 nown, int64 *nshared)
{
	uint32	   *seen = own;
	int64		nseen = nown;
	uint32	   *shared = NULL;

	*nshared = 0;
	for (int w = 0; w < nworkers; w++)
	{
		Size		nbytes;
		void	   *message = rfm_parallel_receive(parallel, w, false, &nbytes);
		int64		n;
		const uint32 *theirs = read_hashes(message, nbytes, MSG_HASHES, &n);
		uint32	   *merged;
		int64		i = 0,
					j = 0,
					m = 0;

		rfm_customers_check_more(st->customers, (2 * nseen + 2 * n) * sizeof(uint32));
		merged = palloc_extended(Max(nseen + n, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
		shared = shared == NULL ?
			palloc_extended(Max(Min(nseen, n), 1) * sizeof(uint32), MCXT_ALLOC_HUGE) :
			repalloc_huge(shared, Max(*nshared + Min(nseen, n), 1) * sizeof(uint32));
		while (i < nseen || j < n)
		{
			if (j == n || (i < nseen && seen[i] < theirs[j]))
				merged[m++] = seen[i++];
			else if (i == nseen || theirs[j] < seen[i])
				merged[m++] = theirs[j++];
			else
			{
				shared[(*nshared)++] = seen[i];
				merged[m++] = seen[i++];
				j++;
			}
		}
		if (seen != own)
			pfree(seen);
		seen = merged;
		nseen = m;
	}
	if (seen != own)
		pfree(seen);
	if (shared == NULL)
		return palloc(sizeof(uint32));
	/* a hash met by three processes is in the lists twice */
	sort_hashes(shared, *nshared);
	{
		int64		m = *nshared == 0 ? 0 : 1;

		for (int64 i = 1; i < *nshared; i++)
			if (shared[i] != shared[m - 1])
				shared[m++] = shared[i];
		*nshared = m;
	}
	return shared;
}

/*
 * The leader split by blocks: the hashes met by two processes to the
 * workers; their customers of its parts merged in and those of other
 * workers' parts passed on; then its own customers met in common of
 * their parts sent to them.  st->overflow when a process passed
 * max_memory; the workers wait, the caller cancels them.
 */
static void
leader_exchange(AnalyzeState *st, RfmParallel *parallel, int nworkers, uint64 mine)
{
	StringInfoData *out = palloc(nworkers * sizeof(StringInfoData));
	uint64		n = rfm_customers_count(st->customers);
	uint32	   *by_customer;
	int64		nhashes;
	uint32	   *hashes = customer_hashes(st, &by_customer, &nhashes);
	int64		nshared;
	uint32	   *shared;
	Size		size;
	char	   *message;
	Hashes		header;
	Size		relayed = 0;
	bool	   *sent;
	shared = shared_hashes(st, parallel, nworkers, hashes, nhashes, &nshared);
	pfree(hashes);
	size = HASHES_HEADER + nshared * sizeof(uint32);
	message = palloc_extended(size, MCXT_ALLOC_HUGE);
	header.kind = MSG_SHARED;
	header.n = nshared;
	memcpy(message, &header, sizeof(header));
	memcpy(message + HASHES_HEADER, shared, nshared * sizeof(uint32));
	rfm_parallel_reply_all(parallel, message, size);
	pfree(message);

	for (int w = 0; w < nworkers; w++)
	{
		initStringInfo(&out[w]);
		start_customers(&out[w]);
	}
	for (int w = 0; w < nworkers; w++)
	{
		for (;;)
		{
			Size		nbytes;
			const char *received = rfm_parallel_receive(parallel, w, false, &nbytes);
			MessageKind kind;

			memcpy(&kind, received, sizeof(kind));
			if (kind == MSG_CUSTOMERS_END)
				break;
			if (kind != MSG_CUSTOMERS)
				elog(ERROR, "unexpected message %d from a parallel worker", (int) kind);
			relayed += nbytes;
			if (!merge_customers(st, received, nbytes, mine, out))
				return;
			/* what waits for other workers counts with the customers */
			if (rfm_scan_mode == RFM_SCAN_AUTO)
			{
				if (!rfm_customers_fit_more(st->customers, relayed))
				{
					st->overflow = true;
					return;
				}
			}
			else
				rfm_customers_check_more(st->customers, relayed);
		}
	}
	/* the passed-on customers first, then the leader's own */
	for (int w = 0; w < nworkers; w++)
		if (out[w].len > MESSAGE_HEADER)
			rfm_parallel_reply(parallel, w, out[w].data, out[w].len);
	sent = palloc_extended(Max(rfm_customers_count(st->customers), 1) * sizeof(bool),
						   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	send_shared(st, by_customer, n, shared, nshared, mine, out, nworkers, sent,
				leader_send, parallel);
	for (int w = 0; w < nworkers; w++)
		pfree(out[w].data);
	pfree(out);
	pfree(by_customer);
	pfree(shared);
	rfm_customers_remove(st->customers, sent);
	pfree(sent);

	for (int w = 0; w < nworkers; w++)
	{
		Merged		merged;

		rfm_parallel_receive_struct(parallel, w, &merged, sizeof(merged));
		if (merged.kind != MSG_MERGED)
			elog(ERROR, "unexpected message %d from a parallel worker", (int) merged.kind);
		st->overflow |= merged.overflow;
	}
	rfm_analysis_check_scores(st);
}

/* the worker's rows of one snapshot, then the end mark */
static void
send_rows(shm_mq_handle *queue, AnalyzeState *st, int snap, bool with_as_of,
		  TupleDesc desc, const AnalyzeScored *scored, uint64 n,
		  float8 breaks[NDIMS][RFM_MAX_BINS], MemoryContext row_cxt)
{
	RfmRowSender *sender = rfm_parallel_rows_begin(queue, desc);

	for (uint64 i = 0; i < n; i++)
	{
		RfmCustomerStates *states = rfm_customers_payload(st->customers,
														  scored[i].customer);
		Datum		out[RFM_ANALYSIS_MAX_COLUMNS];
		bool		outnull[RFM_ANALYSIS_MAX_COLUMNS];
		bool		key_null;
		Datum		key;
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		key = rfm_customers_key_text(st->customers, scored[i].customer, &key_null);
		rfm_analysis_form(st->spec, snap, with_as_of, (Datum) 0, true, key, key_null,
						  states[snap], &scored[i].scored, breaks, out, outnull);
		rfm_parallel_send_row(sender, out, outnull);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	rfm_parallel_rows_end(sender);
}

/*
 * A parallel worker: the scan of its part of the customers, under the
 * leader's snapshot, user and settings; then per snapshot its values to
 * the leader, the breaks back, and its rows to the leader.
 */
void
rfm_analyze_worker(dsm_segment *seg, shm_toc *toc)
{
	RfmParallelWorker w;
	WorkerSpec	header;
	const char *p;
	AnalyzeSpec spec;
	AnalyzeState st;
	Scanned		scanned;
	TupleDesc	desc;
	bool		with_as_of;
	const char *query;
	MemoryContext row_cxt;

	p = rfm_parallel_worker_attach(seg, toc, &w, &header, sizeof(header));
	query = read_worker_spec(&header, p, &spec, &with_as_of, &desc);

	memset(&st, 0, sizeof(st));
	st.spec = &spec;
	st.states_offset = MAXALIGN(spec.nsnapshots * sizeof(RfmState *));
	st.customers = rfm_customers_create(spec.relid, spec.columns[COL_KEY],
										st.states_offset + spec.nsnapshots * rfm_state_size(),
										spec.function, RFM_ANALYZE_MEMORY_HINT);
	if (rfm_scan_mode == RFM_SCAN_AUTO)
		rfm_customers_set_soft_limit(st.customers);
	scan_part(&st, query, header.nblocks, w.nparts, UINT64CONST(1) << w.part);
	/* the scores must fit too, as in one backend */
	rfm_analysis_check_scores(&st);

	scanned.kind = MSG_SCANNED;
	scanned.overflow = st.overflow;
	scanned.any_event = st.any_event;
	scanned.earliest = st.earliest;
	scanned.latest = st.latest;
	rfm_parallel_send(w.queue, &scanned, sizeof(scanned));
	if (st.overflow)
		return;					/* the leader reads by states */
	if (header.nblocks > 0 && !worker_exchange(&w, &st))
		return;

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	for (int snap = 0; snap < spec.nsnapshots; snap++)
	{
		uint64		n;
		AnalyzeScored *scored = rfm_analysis_scores(&st, snap, 0, &n);
		Size		nbytes;
		void	   *data;
		Breaks		breaks;

		for (int d = 0; d < NDIMS; d++)
			send_values(w.queue, scored, n, d);
		if (shm_mq_receive(w.reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			return;				/* the leader has gone */
		memcpy(&breaks, data, Min(nbytes, sizeof(breaks)));
		if (breaks.kind != MSG_BREAKS || nbytes != sizeof(breaks) || breaks.snap != snap)
			return;				/* MSG_STOP */
		send_rows(w.queue, &st, snap, with_as_of, desc, scored, n, breaks.breaks, row_cxt);
		pfree(scored);
	}
}

/*
 * One snapshot in the leader: the breaks over its own customers' values
 * and the workers', sent to them; then its rows and theirs.
 */
static void
leader_snapshot(FunctionCallInfo fcinfo, AnalyzeState *st, RfmParallel *parallel,
				bool *rows_done, int nworkers, int snap, bool with_as_of,
				TupleTableSlot *slot, MemoryContext row_cxt)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	uint64		n;
	AnalyzeScored *scored = rfm_analysis_scores(st, snap, 0, &n);
	Breaks		breaks;

	memset(&breaks, 0, sizeof(breaks));
	breaks.kind = MSG_BREAKS;
	breaks.snap = snap;
	for (int d = 0; d < NDIMS; d++)
	{
		RfmValueCount *items = palloc_extended(Max(n, 1) * sizeof(RfmValueCount),
											   MCXT_ALLOC_HUGE);
		int64		total = rfm_analysis_collect(scored, n, d, items);
		int64		nitems = rfm_compact_values(items, (int) total);

		for (int i = 0; i < nworkers; i++)
		{
			Size		nbytes;
			const ValuesHeader *header = rfm_parallel_receive(parallel, i, false, &nbytes);
			const RfmValueCount *theirs;
			RfmValueCount *merged;

			if (header->kind != MSG_VALUES || header->dim != d ||
				nbytes != MAXALIGN(sizeof(ValuesHeader)) + header->n * sizeof(RfmValueCount))
				elog(ERROR, "unexpected message %d from a parallel worker", (int) header->kind);
			theirs = (const RfmValueCount *) ((const char *) header +
											  MAXALIGN(sizeof(ValuesHeader)));
			/* the workers' values count with the leader's customers */
			rfm_customers_check_more(st->customers,
									 (nitems + header->n) * sizeof(RfmValueCount));
			merged = palloc_extended(Max(nitems + header->n, 1) * sizeof(RfmValueCount),
									 MCXT_ALLOC_HUGE);
			nitems = merge_values(items, nitems, theirs, header->n, merged);
			total += header->total;
			pfree(items);
			items = merged;
		}
		if (total > 0)
			rfm_compute_breaks(items, total, spec->bins, spec->method, breaks.breaks[d]);
		pfree(items);
	}
	rfm_parallel_reply_all(parallel, &breaks, sizeof(breaks));
	for (int i = 0; i < nworkers; i++)
		rows_done[i] = false;

	for (uint64 i = 0; i < n; i++)
	{
		rfm_analysis_emit_scored(fcinfo, st, snap, with_as_of, &scored[i],
								 breaks.breaks, row_cxt);
		if (i % DRAIN_EVERY == DRAIN_EVERY - 1)
			for (int w = 0; w < nworkers; w++)
				if (!rows_done[w])
					rows_done[w] = rfm_parallel_take_rows(parallel, w, true,
														  rsinfo->setResult, slot);
	}
	for (int w = 0; w < nworkers; w++)
		if (!rows_done[w])
			rows_done[w] = rfm_parallel_take_rows(parallel, w, false,
												  rsinfo->setResult, slot);
	pfree(scored);
}

/*
 * rfm_analyze or rfm_snapshots by rows in parallel workers, when the
 * source allows them (rfm_parallel_workers): RFM_ANALYSIS_DONE with the
 * rows emitted; RFM_ANALYSIS_SERIAL when no worker was launched (nothing
 * read yet); RFM_ANALYSIS_STATES when a process passed
 * rfm_segment.max_memory under the soft limit (st->overflow, the workers
 * stopped).
 */
RfmAnalysisWay
rfm_analysis_in_parallel(FunctionCallInfo fcinfo, AnalyzeState *st, bool with_as_of)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	int			planned = rfm_parallel_workers(spec->relid);
	char	   *query;
	char	   *wspec;
	Size		size;
	BlockNumber nblocks;
	uint64		mine;
	RfmParallel *parallel;
	int			nworkers;
	bool	   *rows_done;
	TupleTableSlot *slot;
	MemoryContext row_cxt;

	if (planned == 0)
		return RFM_ANALYSIS_SERIAL;
	query = rfm_analysis_query(spec);
	nblocks = rfm_parallel_blocks(spec->relid, spec->columns[COL_KEY], planned + 1);
	wspec = worker_spec(fcinfo, spec, with_as_of, query, nblocks, &size);
	parallel = rfm_parallel_begin(spec->function, "rfm_analyze_worker", planned, wspec, size);
	if (parallel == NULL)
		return RFM_ANALYSIS_SERIAL;
	nworkers = rfm_parallel_launched(parallel);
	if (nblocks > 0)
		ereport(DEBUG1,
				(errmsg_internal("%s: each process reads its own blocks", spec->function)));

	/* the leader's part of the scan, then the workers' news of theirs */
	mine = rfm_parallel_leader_parts(parallel);
	scan_part(st, query, nblocks, rfm_parallel_parts(parallel), mine);
	rows_done = palloc0(nworkers * sizeof(bool));
	for (int i = 0; i < nworkers && !st->overflow; i++)
	{
		Scanned		scanned;

		rfm_parallel_receive_struct(parallel, i, &scanned, sizeof(scanned));
		if (scanned.kind != MSG_SCANNED)
			elog(ERROR, "unexpected message %d from a parallel worker", (int) scanned.kind);
		st->overflow |= scanned.overflow;
		if (scanned.any_event && (!st->any_event || scanned.earliest < st->earliest))
			st->earliest = scanned.earliest;
		if (scanned.any_event && (!st->any_event || scanned.latest > st->latest))
			st->latest = scanned.latest;
		st->any_event |= scanned.any_event;
	}
	rfm_analysis_check_scores(st);
	if (nblocks > 0 && !st->overflow)
		leader_exchange(st, parallel, nworkers, mine);
	if (st->overflow)
	{
		rfm_parallel_cancel(parallel);
		return RFM_ANALYSIS_STATES;
	}
	if (st->any_event)
		rfm_check_as_of_gap(spec->as_of_input[spec->nsnapshots - 1],
							spec->as_of[spec->nsnapshots - 1],
							st->earliest, st->latest, spec->is_date);

	slot = MakeSingleTupleTableSlot(rsinfo->setDesc, &TTSOpsMinimalTuple);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	for (int snap = 0; snap < spec->nsnapshots; snap++)
		leader_snapshot(fcinfo, st, parallel, rows_done, nworkers, snap, with_as_of,
						slot, row_cxt);
	MemoryContextDelete(row_cxt);
	ExecDropSingleTupleTableSlot(slot);
	rfm_parallel_finish(parallel);
	return RFM_ANALYSIS_DONE;
}
