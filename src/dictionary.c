/*-------------------------------------------------------------------------
 *
 * dictionary.c
 *	  The distinct values of a column other than the customer's (a category,
 *	  an item) as dense ids, with their text and their order by text.
 *
 * The values are kept in scan.c's key table (the one that holds
 * customers), so a category or an item is told apart by its type's own
 * equality, exactly as a customer is: no text conversion per row, and
 * 1.0 and 1.00 are one numeric value.  Each value's id is its position in
 * order of first appearance; callers keep a fixed-size payload per value.
 * After the scan, rfm_dictionary_sort gives every value its text (the
 * type's output, of the first row that had it) and a rank in byte order
 * of those texts, so results can be ordered and ties broken by name
 * whatever the order of the rows.
 *
 * Memory: per value, about 90 bytes of hash entry and bookkeeping, the
 * key's bytes when it is not passed by value, 8 bytes of id plus the
 * payload, and after sorting its text and 8 bytes of rank; all of it
 * counts against rfm_segment.max_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "dictionary.h"
#include "scan.h"

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

/* each value's payload starts with its id */
#define ID_SIZE		MAXALIGN(sizeof(int32))

struct RfmDictionary
{
	RfmCustomers *values;		/* keyed by the column's own values */
	const char *argname;
	char	  **names;			/* by id, after rfm_dictionary_sort */
	int32	   *ranks;			/* by id */
	int32	   *sorted;			/* ids by rank */
};

/*
 * A dictionary of the values of column "column" (argument argname) of
 * relation relid, each with payload_size bytes for the caller, zeroed when
 * the value is first seen.  Made in the current memory context, which must
 * outlive the scan.  The column must exist and its type must be hashable:
 * both are checked here, so that the errors name the right argument.
 */
RfmDictionary *
rfm_dictionary_create(Oid relid, const char *column, const char *argname,
					  Size payload_size, const char *function,
					  const char *memory_hint)
{
	RfmDictionary *d = palloc0(sizeof(RfmDictionary));
	Oid			collation;
	Oid			type = rfm_column_type(relid, column, argname, &collation);
	TypeCacheEntry *tce;

	tce = lookup_type_cache(type, TYPECACHE_HASH_PROC | TYPECACHE_EQ_OPR);
	if (!OidIsValid(tce->hash_proc) || !OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s, which cannot be grouped by hashing",
						argname, column, format_type_be(type)),
				 errhint("Pass a column of type text, integer or uuid, or a view that casts it.")));
	d->argname = argname;
	d->values = rfm_customers_create(relid, column, ID_SIZE + payload_size,
									 function, memory_hint);
	return d;
}

/* the payload of a (non-NULL) value, made when the value is new; its id */
void *
rfm_dictionary_lookup(RfmDictionary *d, Datum value, int32 *id)
{
	bool		found;
	char	   *entry = rfm_customers_lookup(d->values, value, false, &found);

	if (!found)
	{
		uint64		n = rfm_customers_count(d->values);

		if (n > (uint64) PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s has more than %d distinct values",
							d->argname, PG_INT32_MAX),
					 errhint("Group the values into fewer categories first.")));
		*(int32 *) entry = (int32) (n - 1);
	}
	*id = *(int32 *) entry;
	return entry + ID_SIZE;
}

int32
rfm_dictionary_count(const RfmDictionary *d)
{
	return (int32) rfm_customers_count(d->values);
}

/* the payload of the value with this id */
void *
rfm_dictionary_payload(const RfmDictionary *d, int32 id)
{
	return (char *) rfm_customers_payload(d->values, (uint64) id) + ID_SIZE;
}

static int
compare_names(const void *a, const void *b, void *arg)
{
	char	  **names = (char **) arg;
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;
	int			c = strcmp(names[x], names[y]);

	/* distinct values print differently in practice; ids keep qsort total */
	if (c != 0)
		return c;
	return (x > y) - (x < y);
}

/*
 * The text of every value, and the values ranked by it in byte order (as
 * COLLATE "C" sorts), which no setting of the session changes.
 */
void
rfm_dictionary_sort(RfmDictionary *d)
{
	int32		n = rfm_dictionary_count(d);
	MemoryContext old = MemoryContextSwitchTo(rfm_customers_context(d->values));

	d->names = palloc_extended(Max(n, 1) * sizeof(char *), MCXT_ALLOC_HUGE);
	d->ranks = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	d->sorted = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	for (int32 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		value = rfm_customers_key_text(d->values, (uint64) i, &isnull);

		d->names[i] = TextDatumGetCString(value);
		pfree(DatumGetPointer(value));
		d->sorted[i] = i;
	}
	MemoryContextSwitchTo(old);
	(void) rfm_customers_check_memory(d->values);

	qsort_arg(d->sorted, n, sizeof(int32), compare_names, d->names);
	for (int32 r = 0; r < n; r++)
		d->ranks[d->sorted[r]] = r;
}

const char *
rfm_dictionary_name(const RfmDictionary *d, int32 id)
{
	Assert(d->names != NULL);
	return d->names[id];
}

int32
rfm_dictionary_rank(const RfmDictionary *d, int32 id)
{
	Assert(d->ranks != NULL);
	return d->ranks[id];
}

int32
rfm_dictionary_at_rank(const RfmDictionary *d, int32 rank)
{
	Assert(d->sorted != NULL);
	return d->sorted[rank];
}
