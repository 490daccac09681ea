/*-------------------------------------------------------------------------
 *
 * direct_scan.c
 *	  Reading a bare scan of a table (or of its partitions) without the
 *	  executor.
 *
 * scan.c runs every query of the source through SPI, as the caller.  Most
 * of those queries are the plainest there is: some columns of one table,
 * every row (SELECT key, time, amount FROM orders).  For them the
 * executor adds a cost per row that the work done with the row does not
 * need: the scan node, its projection and the DestReceiver's call, about
 * a tenth of rfm_analyze's time at 10M events.  So scan.c first plans the
 * query as always, and when the plan is such a scan (a sequential scan of
 * a heap table, no filter, every output column one of the table's own or
 * a NULL; or an Append of such scans, for a partitioned table), this file
 * reads the tables through the table access method and hands the
 * receiver the same rows in the same slots, in the same order: what the
 * executor would have given, without it.
 *
 * What stays as in any SELECT: the planner decides (row-level security
 * adds a filter, a cast an expression, pruning at run time its own
 * information, Citus and foreign tables or partitions their own nodes:
 * each of those leaves the query to the executor); the permissions are
 * checked by the executor's own function, with its hook, on the plan's
 * range table (a view's owner's too); the locks are the plan's; the snapshot is the active one, as SPI's read-only
 * execution takes it; the table access method counts the scan in the
 * statistics.  What does not run is the executor's hooks: an extension
 * that watches every nested statement (pg_stat_statements with track =
 * all, auto_explain with log_nested_statements) does not see this one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "direct_scan.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "storage/itemptr.h"
#include "storage/off.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* one table a plan scans bare: its column of each output column (0: NULL) */
typedef struct BareScan
{
	Oid			relid;
	AttrNumber	attnos[RFM_DIRECT_SCAN_MAX_COLUMNS];
} BareScan;

/* whether plan is a sequential scan of a table, bare; if so, into scan */
static bool
bare_seqscan(PlannedStmt *stmt, Plan *plan, BareScan *scan, int *ncols)
{
	Index		scanrelid;
	RangeTblEntry *rte;
	ListCell   *lc;
	int			n = 0;

	if (plan == NULL || !IsA(plan, SeqScan) || plan->qual != NIL ||
		plan->initPlan != NIL || plan->lefttree != NULL ||
		plan->righttree != NULL || plan->parallel_aware)
		return false;
	scanrelid = ((Scan *) plan)->scanrelid;
	rte = rt_fetch(scanrelid, stmt->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION ||
		rte->tablesample != NULL)
		return false;
	foreach(lc, plan->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		if (tle->resjunk || n == RFM_DIRECT_SCAN_MAX_COLUMNS)
			return false;
		if (IsA(expr, Var) && (Index) ((Var *) expr)->varno == scanrelid &&
			((Var *) expr)->varlevelsup == 0 && ((Var *) expr)->varattno > 0)
			scan->attnos[n++] = ((Var *) expr)->varattno;
		else if (IsA(expr, Const) && ((Const *) expr)->constisnull)
			scan->attnos[n++] = 0;
		else
			return false;
	}
	scan->relid = rte->relid;
	*ncols = n;
	return true;
}

/* whether an Append prunes its children at run time */
static bool
has_run_time_pruning(const Append *append)
{
#if PG_VERSION_NUM >= 180000
	return append->part_prune_index >= 0;
#else
	return append->part_prune_info != NULL;
#endif
}

/*
 * The tables a plan scans bare, in the order the executor reads them: one
 * for a sequential scan, the partitions (or a parent and its inheritors)
 * for an Append of such scans that passes their columns through as they
 * are, without pruning at run time.  0 for any other plan.
 */
static int
bare_scans(PlannedStmt *stmt, BareScan **scans, int *ncols)
{
	Plan	   *plan = stmt->planTree;
	Append	   *append;
	ListCell   *lc;
	int			n = 0;

	if (stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE ||
		stmt->subplans != NIL || stmt->rowMarks != NIL || plan == NULL)
		return 0;
	if (!IsA(plan, Append))
	{
		*scans = palloc(sizeof(BareScan));
		return bare_seqscan(stmt, plan, *scans, ncols) ? 1 : 0;
	}
	append = (Append *) plan;
	if (plan->qual != NIL || plan->initPlan != NIL || plan->parallel_aware ||
		has_run_time_pruning(append) ||
		append->first_partial_plan < list_length(append->appendplans) ||
		list_length(append->appendplans) == 0)
		return 0;
	/* the Append's columns are its children's, in order, or NULLs */
	foreach(lc, plan->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		if (tle->resjunk)
			return 0;
		if (IsA(expr, Const) && ((Const *) expr)->constisnull)
			continue;
		if (!IsA(expr, Var) || ((Var *) expr)->varno != OUTER_VAR ||
			((Var *) expr)->varattno != tle->resno)
			return 0;
	}
	*scans = palloc(list_length(append->appendplans) * sizeof(BareScan));
	foreach(lc, append->appendplans)
	{
		int			child_cols;
		ListCell   *tc;

		if (!bare_seqscan(stmt, (Plan *) lfirst(lc), &(*scans)[n], &child_cols) ||
			child_cols != list_length(plan->targetlist))
			return 0;
		/* the Append's NULLs are NULLs, whatever a child has there */
		foreach(tc, plan->targetlist)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, tc);

			if (IsA(tle->expr, Const))
				(*scans)[n].attnos[tle->resno - 1] = 0;
		}
		n++;
	}
	*ncols = list_length(plan->targetlist);
	return n;
}

/* the executor's permission check of the plan's range table, hook included */
static void
check_permissions(PlannedStmt *stmt)
{
#if PG_VERSION_NUM >= 160000
	(void) ExecCheckPermissions(stmt->rtable, stmt->permInfos, true);
#else
	(void) ExecCheckRTPerms(stmt->rtable, true);
#endif
}

/*
 * Read one table of a bare scan into dest: false when dest wants no more
 * rows.  out: a virtual slot of the plan's output columns.
 */
static bool
read_table(const BareScan *bare, int ncols, BlockNumber first, BlockNumber end,
		   TupleTableSlot *out, DestReceiver *dest)
{
	Relation	rel = table_open(bare->relid, AccessShareLock);
	TupleTableSlot *heap_slot = table_slot_create(rel, NULL);
	TableScanDesc scan;
	AttrNumber	maxatt = 0;
	bool		ranged = first != 0 || end != InvalidBlockNumber;
	bool		more = true;

	for (int i = 0; i < ncols; i++)
		maxatt = Max(maxatt, bare->attnos[i]);
	if (ranged)
	{
		ItemPointerData mintid;
		ItemPointerData maxtid;

		ItemPointerSet(&mintid, first, FirstOffsetNumber);
		if (end == InvalidBlockNumber)
			ItemPointerSet(&maxtid, MaxBlockNumber, MaxOffsetNumber);
		else if (end == 0)
			ItemPointerSet(&maxtid, 0, InvalidOffsetNumber);	/* nothing */
		else
			ItemPointerSet(&maxtid, end - 1, MaxOffsetNumber);
		scan = table_beginscan_tidrange(rel, GetActiveSnapshot(), &mintid, &maxtid);
	}
	else
		scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	ereport(DEBUG2,
			(errmsg_internal("rfm_segment: reading %s without the executor",
							 RelationGetRelationName(rel))));
	while (more &&
		   (ranged ?
			table_scan_getnextslot_tidrange(scan, ForwardScanDirection, heap_slot) :
			table_scan_getnextslot(scan, ForwardScanDirection, heap_slot)))
	{
		slot_getsomeattrs(heap_slot, maxatt);
		ExecClearTuple(out);
		for (int i = 0; i < ncols; i++)
		{
			if (bare->attnos[i] == 0)
			{
				out->tts_values[i] = (Datum) 0;
				out->tts_isnull[i] = true;
			}
			else
			{
				out->tts_values[i] = heap_slot->tts_values[bare->attnos[i] - 1];
				out->tts_isnull[i] = heap_slot->tts_isnull[bare->attnos[i] - 1];
			}
		}
		ExecStoreVirtualTuple(out);
		/* false: the receiver wants no more rows */
		more = dest->receiveSlot(out, dest);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(heap_slot);
	table_close(rel, AccessShareLock);
	return more;
}

/* whether a table is read by heap's access method, which reads block ranges */
static bool
is_heap(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		heap = rel->rd_tableam == GetHeapamTableAmRoutine();

	table_close(rel, AccessShareLock);
	return heap;
}

/*
 * If plan (of SPI, prepared, not yet run) is a bare scan of heap tables,
 * read it into dest, the rows of blocks first .. end - 1 only of each
 * table (end InvalidBlockNumber: to the last block, those added since
 * too), and return true; else false, having read nothing.  dest gets each
 * row in a virtual slot of the plan's output columns, as from the
 * executor, and the tables in the executor's order.
 */
bool
rfm_direct_scan(SPIPlanPtr plan, BlockNumber first, BlockNumber end, DestReceiver *dest)
{
	CachedPlan *cplan;
	PlannedStmt *stmt = NULL;
	BareScan   *scans = NULL;
	int			nscans = 0;
	int			ncols = 0;
	TupleDesc	desc;
	TupleTableSlot *out;

	cplan = SPI_plan_get_cached_plan(plan);
	if (cplan == NULL)
		return false;
	if (list_length(cplan->stmt_list) == 1)
	{
		stmt = linitial_node(PlannedStmt, cplan->stmt_list);
		nscans = bare_scans(stmt, &scans, &ncols);
	}
	/*
	 * The plan holds the tables' locks to the end of the transaction; the
	 * table_open calls here and below take and give back one more each.
	 */
	for (int i = 0; i < nscans; i++)
		if (!is_heap(scans[i].relid))
			nscans = 0;
	if (nscans == 0)
	{
		ReleaseCachedPlan(cplan, NULL);
		return false;
	}
	check_permissions(stmt);
	desc = ExecTypeFromTL(stmt->planTree->targetlist);
	ReleaseCachedPlan(cplan, NULL);

	out = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	dest->rStartup(dest, CMD_SELECT, desc);
	for (int i = 0; i < nscans; i++)
		if (!read_table(&scans[i], ncols, first, end, out, dest))
			break;
	dest->rShutdown(dest);
	ExecDropSingleTupleTableSlot(out);
	return true;
}
