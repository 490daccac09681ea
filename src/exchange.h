/*-------------------------------------------------------------------------
 *
 * exchange.h
 *	  Customers met by two parallel processes, sent to the process of their
 *	  part and merged there (exchange.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_EXCHANGE_H
#define RFM_EXCHANGE_H

#include "parallel.h"
#include "scan.h"

/*
 * What the exchange asks of its caller about a customer's payload (which
 * only the caller knows): write it into a message (MAXALIGNed, as
 * rfm_parallel_pad leaves it), and merge one read from a message, in
 * place, into a customer of this process (found: the customer was here;
 * else its payload is zeroed).  merge returns false past
 * rfm_segment.max_memory under a soft limit.  After the merges the
 * customers are checked against it; fits, if set, says whether what the
 * caller holds beside them still fits too.
 */
typedef struct RfmExchangePayload
{
	void		(*write) (void *arg, const void *payload, StringInfo buf);
	bool		(*merge) (void *arg, void *payload, bool found, const char *data);
	bool		(*fits) (void *arg);
	void	   *arg;
} RfmExchangePayload;

extern bool rfm_exchange_worker(RfmParallelWorker *worker, RfmCustomers *customers,
								const RfmExchangePayload *payload);
extern bool rfm_exchange_leader(RfmParallel *parallel, RfmCustomers *customers,
								uint64 mine, const RfmExchangePayload *payload);

#endif							/* RFM_EXCHANGE_H */
