/*-------------------------------------------------------------------------
 *
 * exchange.c
 *	  Customers met by two parallel processes, sent to the process of their
 *	  part and merged there.
 *
 * Where each process reads its own range of a table's blocks (parallel.c's
 * rfm_parallel_blocks), a customer whose rows lie in two ranges is met by
 * two processes, each holding part of its payload.  After the scan:
 *
 * 1. each worker sends the leader the hashes of its customers' keys
 *	  (rfm_customers_hash), sorted; the leader merges them with its own
 *	  and replies with those that two processes or more met;
 * 2. each worker sends the leader its customers with such a hash that
 *	  belong to another part (rfm_customers_part): the leader merges those
 *	  of its parts and keeps the others for their workers;
 * 3. the leader sends each worker those, then its own customers of that
 *	  worker's part with such a hash, and the worker merges them;
 * 4. every process removes the customers it sent, and each worker tells
 *	  the leader whether it still fits rfm_segment.max_memory.
 *
 * A customer met by one process only stays there: where each customer's
 * rows lie together, nearly all of them, so that only those whose rows
 * straddle two ranges move.  Hashes stand in for keys: two customers
 * with one hash, met by different processes, both go to the process of
 * that hash's part, which is right for either.  The steps run one after
 * another, so that no two processes wait on each other's full queues.
 * Only the payload's form is the caller's (RfmExchangePayload).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "exchange.h"
#include "guc.h"

#include "utils/memutils.h"

/* the exchange's messages, distinct from its callers' kinds */
#define MSG_HASHES			0x48415348	/* "HASH": a worker's hashes */
#define MSG_SHARED			0x53485244	/* "SHRD": the hashes met twice */
#define MSG_CUSTOMERS		0x43555354	/* "CUST": customers */
#define MSG_CUSTOMERS_END	0x43454E44	/* "CEND": no more of them */
#define MSG_MERGED			0x4D524744	/* "MRGD": a worker's merge is done */

/*
 * A message of customers is its kind, MAXALIGNed, then customers, each a
 * Record, its key (rfm_customers_write_key) and its payload (the
 * caller's).  A Record's len covers all of it.
 */
typedef struct Record
{
	int32		part;			/* the process that keeps it */
	int32		len;
} Record;

#define MESSAGE_HEADER		((int) MAXALIGN(sizeof(uint32)))
#define RECORD_HEADER		((int) MAXALIGN(sizeof(Record)))

/* customers are sent in messages of about this size */
#define BATCH_SIZE			(64 * 1024)

/* a message of hashes: this, MAXALIGNed, then n uint32 */
typedef struct Hashes
{
	uint32		kind;
	int64		n;
} Hashes;

#define HASHES_HEADER		MAXALIGN(sizeof(Hashes))

typedef struct Merged
{
	uint32		kind;
	bool		overflow;
} Merged;

/* an empty message of customers */
static void
start_customers(StringInfo buf)
{
	uint32		kind = MSG_CUSTOMERS;

	resetStringInfo(buf);
	appendBinaryStringInfo(buf, (const char *) &kind, sizeof(kind));
	rfm_parallel_pad(buf);
}

/* the i-th customer, key and payload, into a message for its part */
static void
append_customer(StringInfo buf, const RfmCustomers *customers,
				const RfmExchangePayload *payload, uint64 i, int part)
{
	int			start = buf->len;
	Record		record;

	record.part = part;
	record.len = 0;
	appendBinaryStringInfo(buf, (const char *) &record, sizeof(record));
	rfm_parallel_pad(buf);
	rfm_customers_write_key(customers, i, buf);
	payload->write(payload->arg, rfm_customers_payload(customers, i), buf);
	record.len = buf->len - start;
	memcpy(buf->data + start, &record, sizeof(record));
}

/*
 * The customers of a message into this process (those of the parts in
 * mine), and in the leader the others into relay, per worker, for their
 * processes.  False past max_memory under a soft limit.
 */
static bool
merge_customers(RfmCustomers *customers, const RfmExchangePayload *payload,
				const char *message, Size nbytes, uint64 mine, StringInfo relay)
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
			const char *data = p + RECORD_HEADER;
			bool		isnull;
			bool		found;
			Datum		key = rfm_customers_read_key(customers, &data, &isnull);
			void	   *mine_payload = rfm_customers_lookup(customers, key, isnull, &found);

			if (mine_payload == NULL ||
				!payload->merge(payload->arg, mine_payload, found, data))
				return false;
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
 * After the merges: whether the customers, whose payloads may have grown,
 * and what the caller holds beside them still fit rfm_segment.max_memory
 * (false under a soft limit, else the error).
 */
static bool
merged_fit(RfmCustomers *customers, const RfmExchangePayload *payload)
{
	if (!rfm_customers_check_memory(customers))
		return false;
	return payload->fits == NULL || payload->fits(payload->arg);
}

/*
 * Whether bytes more fit rfm_segment.max_memory with the customers: under
 * scan = auto (the callers' soft limit) false, else the error.
 */
static bool
room_for(RfmCustomers *customers, Size bytes)
{
	if (rfm_customers_fit_more(customers, bytes))
		return true;
	if (rfm_scan_mode == RFM_SCAN_AUTO)
		return false;
	rfm_customers_check_more(customers, bytes);
	return true;
}

/*
 * The hashes of this process's customers, in the table's order
 * (*by_customer), and sorted without repeats (returned, *n of them); NULL
 * when they do not fit max_memory under a soft limit.
 */
static uint32 *
customer_hashes(RfmCustomers *customers, uint32 **by_customer, int64 *n)
{
	uint64		count = rfm_customers_count(customers);
	uint32	   *hashes;
	uint32	   *sorted;

	if (!room_for(customers, 3 * count * sizeof(uint32)))
		return NULL;
	hashes = palloc_extended(Max(count, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	sorted = palloc_extended(Max(count, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (uint64 i = 0; i < count; i++)
		hashes[i] = rfm_customers_hash(customers, i);
	memcpy(sorted, hashes, count * sizeof(uint32));
	sort_hashes(sorted, count);
	*n = count == 0 ? 0 : 1;
	for (uint64 i = 1; i < count; i++)
		if (sorted[i] != sorted[*n - 1])
			sorted[(*n)++] = sorted[i];
	*by_customer = hashes;
	return sorted;
}

/* a message of n hashes of that kind */
static char *
hashes_message(uint32 kind, const uint32 *hashes, int64 n, Size *size)
{
	char	   *message;
	Hashes		header;

	*size = HASHES_HEADER + Max(n, 0) * sizeof(uint32);
	message = palloc_extended(*size, MCXT_ALLOC_HUGE);
	memset(message, 0, HASHES_HEADER);
	header.kind = kind;
	header.n = n;
	memcpy(message, &header, sizeof(header));
	if (n > 0)
		memcpy(message + HASHES_HEADER, hashes, n * sizeof(uint32));
	return message;
}

/* the hashes of a message of hashes of that kind, *n of them, in place */
static const uint32 *
read_hashes(const void *message, Size nbytes, uint32 kind, int64 *n)
{
	Hashes		header;

	if (nbytes < HASHES_HEADER)
		elog(ERROR, "unexpected message of %zu bytes from a parallel process", nbytes);
	memcpy(&header, message, sizeof(header));
	if (header.kind != kind || header.n < -1 ||
		nbytes != HASHES_HEADER + Max(header.n, 0) * sizeof(uint32))
		elog(ERROR, "unexpected message %u from a parallel process", header.kind);
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

/* where send_shared's messages go: the leader, or a worker of the leader */
typedef struct Sender
{
	shm_mq_handle *queue;		/* a worker's queue to the leader */
	RfmParallel *parallel;		/* else the leader's context */
} Sender;

static void
send_customers(const Sender *to, int part, StringInfo buf, bool last)
{
	uint32		end = MSG_CUSTOMERS_END;

	if (to->queue != NULL)
	{
		if (buf->len > MESSAGE_HEADER)
			rfm_parallel_send(to->queue, buf->data, buf->len);
		if (last)
			rfm_parallel_send(to->queue, &end, sizeof(end));
		return;
	}
	if (buf->len > MESSAGE_HEADER)
		rfm_parallel_reply(to->parallel, part - 1, buf->data, buf->len);
	if (last)
		rfm_parallel_reply(to->parallel, part - 1, &end, sizeof(end));
}

/*
 * This process's first n customers that another process met too and that
 * belong to another part, into messages out (one for a worker, one per
 * worker for the leader), marked in sent; the end of the customers after.
 */
static void
send_shared(RfmCustomers *customers, const RfmExchangePayload *payload,
			const uint32 *by_customer, uint64 n, const uint32 *shared, int64 nshared,
			uint64 mine, StringInfo out, int nout, bool *sent, const Sender *to)
{
	for (int o = 0; o < nout; o++)
		start_customers(&out[o]);
	for (uint64 i = 0; i < n; i++)
	{
		int			part;
		StringInfo	buf;

		if (!is_shared(by_customer[i], shared, nshared))
			continue;
		part = rfm_customers_part(customers, i);
		if (mine & (UINT64CONST(1) << part))
			continue;
		buf = &out[to->queue != NULL ? 0 : part - 1];
		append_customer(buf, customers, payload, i, part);
		sent[i] = true;
		if (buf->len >= BATCH_SIZE)
		{
			send_customers(to, part, buf, false);
			start_customers(buf);
		}
	}
	for (int o = 0; o < nout; o++)
		send_customers(to, o + 1, &out[o], true);
}

/*
 * A worker's side (the worker's part is its own): its hashes to the
 * leader, the hashes met twice back, its customers met twice of other
 * parts to the leader, and then those of its part that the others met,
 * merged.  False when the call stops: past max_memory under a soft limit
 * (the leader is told), or the leader has gone.
 */
bool
rfm_exchange_worker(RfmParallelWorker *w, RfmCustomers *customers,
					const RfmExchangePayload *payload)
{
	StringInfoData buf;
	Merged		merged;
	uint64		n = rfm_customers_count(customers);
	uint32	   *by_customer;
	int64		nhashes;
	uint32	   *hashes = customer_hashes(customers, &by_customer, &nhashes);
	const uint32 *shared;
	int64		nshared;
	Size		nbytes;
	void	   *data;
	char	   *message;
	bool	   *sent;
	bool		fits = true;
	Sender		to = {w->queue, NULL};

	/* no room for the hashes: a list of -1 of them stops the leader */
	message = hashes_message(MSG_HASHES, hashes, hashes == NULL ? -1 : nhashes, &nbytes);
	rfm_parallel_send(w->queue, message, nbytes);
	pfree(message);
	if (hashes == NULL)
		return false;
	pfree(hashes);
	if (shm_mq_receive(w->reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
		return false;			/* the leader has gone */
	shared = read_hashes(data, nbytes, MSG_SHARED, &nshared);

	sent = palloc_extended(Max(n, 1) * sizeof(bool), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	initStringInfo(&buf);
	send_shared(customers, payload, by_customer, n, shared, nshared,
				UINT64CONST(1) << w->part, &buf, 1, sent, &to);
	pfree(buf.data);
	pfree(by_customer);
	rfm_customers_remove(customers, sent);
	pfree(sent);

	for (;;)
	{
		uint32		kind;

		if (shm_mq_receive(w->reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			return false;
		memcpy(&kind, data, sizeof(kind));
		if (kind == MSG_CUSTOMERS_END)
			break;
		if (kind != MSG_CUSTOMERS)
			elog(ERROR, "unexpected message %u from the leader", kind);
		if (fits)
			fits = merge_customers(customers, payload, data, nbytes,
								   UINT64CONST(1) << w->part, NULL);
	}
	fits = fits && merged_fit(customers, payload);
	merged.kind = MSG_MERGED;
	merged.overflow = !fits;
	rfm_parallel_send(w->queue, &merged, sizeof(merged));
	return fits;
}

/*
 * The hashes that two processes or more met, sorted, from the leader's and
 * the workers' sorted lists: each list is merged into the union of those
 * before it, and what it has in common with that union is met twice.
 * NULL when a process's hashes, or these, pass max_memory under a soft
 * limit.
 */
static uint32 *
shared_hashes(RfmCustomers *customers, RfmParallel *parallel, int nworkers,
			  uint32 *own, int64 nown, int64 *nshared)
{
	uint32	   *seen = own;
	int64		nseen = nown;
	uint32	   *shared = palloc(sizeof(uint32));
	int64		m;

	*nshared = 0;
	for (int w = 0; w < nworkers; w++)
	{
		Size		nbytes;
		void	   *message = rfm_parallel_receive(parallel, w, false, &nbytes);
		int64		n;
		const uint32 *theirs = read_hashes(message, nbytes, MSG_HASHES, &n);
		uint32	   *merged;
		int64		i = 0,
					j = 0;

		if (n < 0 || !room_for(customers, (2 * nseen + 2 * n) * sizeof(uint32)))
			return NULL;		/* a worker's, or these, past max_memory */
		merged = palloc_extended(Max(nseen + n, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
		shared = repalloc_huge(shared, Max(*nshared + Min(nseen, n), 1) * sizeof(uint32));
		m = 0;
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

	/* a hash met by three processes is in the list twice */
	sort_hashes(shared, *nshared);
	m = *nshared == 0 ? 0 : 1;
	for (int64 i = 1; i < *nshared; i++)
		if (shared[i] != shared[m - 1])
			shared[m++] = shared[i];
	*nshared = m;
	return shared;
}

/*
 * The leader's side (its parts in mine): the hashes met twice to the
 * workers; their customers of its parts merged and those of other
 * workers' parts passed on; then its own customers met twice of their
 * parts sent to them.  False past max_memory under a soft limit, in any
 * process: the workers then wait, and the caller cancels them.
 */
static bool
exchange_leader(RfmParallel *parallel, RfmCustomers *customers, uint64 mine,
				const RfmExchangePayload *payload)
{
	int			nworkers = rfm_parallel_launched(parallel);
	StringInfoData *out = palloc(nworkers * sizeof(StringInfoData));
	uint64		n = rfm_customers_count(customers);
	uint32	   *by_customer;
	int64		nhashes;
	uint32	   *hashes = customer_hashes(customers, &by_customer, &nhashes);
	int64		nshared;
	uint32	   *shared;
	Size		size;
	char	   *message;
	Size		received = 0;
	bool	   *sent;
	bool		fits = true;
	Sender		to = {NULL, parallel};

	if (hashes == NULL)
		return false;
	shared = shared_hashes(customers, parallel, nworkers, hashes, nhashes, &nshared);
	if (shared == NULL)
		return false;
	pfree(hashes);
	message = hashes_message(MSG_SHARED, shared, nshared, &size);
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
			const char *data = rfm_parallel_receive(parallel, w, false, &nbytes);
			uint32		kind;

			memcpy(&kind, data, sizeof(kind));
			if (kind == MSG_CUSTOMERS_END)
				break;
			if (kind != MSG_CUSTOMERS)
				elog(ERROR, "unexpected message %u from a parallel worker", kind);
			if (!merge_customers(customers, payload, data, nbytes, mine, out))
				return false;
			/* what waits for other workers counts with the customers */
			received += nbytes;
			if (!room_for(customers, received))
				return false;
		}
	}

	/* the passed-on customers first, then the leader's own */
	for (int w = 0; w < nworkers; w++)
		if (out[w].len > MESSAGE_HEADER)
			rfm_parallel_reply(parallel, w, out[w].data, out[w].len);
	sent = palloc_extended(Max(rfm_customers_count(customers), 1) * sizeof(bool),
						   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	send_shared(customers, payload, by_customer, n, shared, nshared, mine, out, nworkers,
				sent, &to);
	for (int w = 0; w < nworkers; w++)
		pfree(out[w].data);
	pfree(out);
	pfree(by_customer);
	pfree(shared);
	rfm_customers_remove(customers, sent);
	pfree(sent);

	for (int w = 0; w < nworkers; w++)
	{
		Merged		merged;

		rfm_parallel_receive_struct(parallel, w, &merged, sizeof(merged));
		if (merged.kind != MSG_MERGED)
			elog(ERROR, "unexpected message %u from a parallel worker", merged.kind);
		fits &= !merged.overflow;
	}
	return fits && merged_fit(customers, payload);
}

/*
 * The leader's side, as above.  When it stops past max_memory the caller
 * reads by states, or stops; the DEBUG1 line says where the memory ran out,
 * since the scan alone fitted.
 */
bool
rfm_exchange_leader(RfmParallel *parallel, RfmCustomers *customers, uint64 mine,
					const RfmExchangePayload *payload)
{
	if (exchange_leader(parallel, customers, mine, payload))
		return true;
	ereport(DEBUG1,
			(errmsg_internal("the customers met by two processes do not fit rfm_segment.max_memory once exchanged")));
	return false;
}
