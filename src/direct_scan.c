/*-------------------------------------------------------------------------
 *
 * direct_scan.c
 *	  Reading a bare scan of one table without the executor.
 *
 * scan.c runs every query of the source through SPI, as the caller.  Most
 * of those queries are the plainest there is: some columns of one table,
 * every row (SELECT key, time, amount FROM orders).  For them the
 * executor adds a cost per row that the work done with the row does not
 * need: the scan node, its projection and the DestReceiver's call, about
 * a tenth of rfm_analyze's time at 10M events.  So scan.c first plans the
 * query as always, and when the plan is such a scan (a sequential scan of
 * a table, no filter, every output column one of the table's own or a
 * NULL), this file reads the table through the table access method and
 * hands the receiver the same rows in the same slots: what the executor
 * would have given, without it.
 *
 * What stays as in any SELECT: the planner decides (row-level security
 * adds a filter, inheritance an Append, a cast an expression, Citus and
 * foreign tables their own nodes: each of those leaves the query to the
 * executor); the permissions are checked by the executor's own function,
 * with its hook, on the plan's range table (a view's owner's too); the
 * locks are the plan's; the snapshot is the active one, as SPI's read-only
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

/*
 * The table a plan scans bare, or InvalidOid; attnos[i] is the table's
 * column of output column i (0: a NULL constant).
 */
static Oid
bare_scan_of(PlannedStmt *stmt, AttrNumber *attnos, int maxcols, int *ncols)
{
	Plan	   *plan = stmt->planTree;
	Scan	   *scan;
	RangeTblEntry *rte;
	ListCell   *lc;
	int			n = 0;

	if (stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE ||
		stmt->subplans != NIL || stmt->rowMarks != NIL || plan == NULL ||
		!IsA(plan, SeqScan) || plan->qual != NIL || plan->initPlan != NIL ||
		plan->lefttree != NULL || plan->righttree != NULL || plan->parallel_aware)
		return InvalidOid;
	scan = (Scan *) plan;
	rte = rt_fetch(scan->scanrelid, stmt->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION ||
		rte->tablesample != NULL)
		return InvalidOid;
	foreach(lc, plan->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		if (tle->resjunk || n == maxcols)
			return InvalidOid;
		if (IsA(expr, Var) && (Index) ((Var *) expr)->varno == scan->scanrelid &&
			((Var *) expr)->varlevelsup == 0 && ((Var *) expr)->varattno > 0)
			attnos[n++] = ((Var *) expr)->varattno;
		else if (IsA(expr, Const) && ((Const *) expr)->constisnull)
			attnos[n++] = 0;
		else
			return InvalidOid;
	}
	*ncols = n;
	return rte->relid;
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
 * If plan (of SPI, prepared, not yet run) is a bare scan of a heap table,
 * read it into dest, the rows of blocks first .. end - 1 only (end
 * InvalidBlockNumber: to the last block, those added since too), and
 * return true; else false, having read nothing.  dest gets each row in a
 * virtual slot of the plan's output columns, as from the executor.
 */
bool
rfm_direct_scan(SPIPlanPtr plan, BlockNumber first, BlockNumber end, DestReceiver *dest)
{
	CachedPlan *cplan;
	PlannedStmt *stmt;
	AttrNumber	attnos[RFM_DIRECT_SCAN_MAX_COLUMNS];
	int			ncols = 0;
	Oid			relid = InvalidOid;
	Relation	rel;
	TupleDesc	desc;
	TupleTableSlot *heap_slot;
	TupleTableSlot *out;
	TableScanDesc scan;
	AttrNumber	maxatt = 0;
	bool		ranged = first != 0 || end != InvalidBlockNumber;

	cplan = SPI_plan_get_cached_plan(plan);
	if (cplan == NULL)
		return false;
	if (list_length(cplan->stmt_list) == 1)
	{
		stmt = linitial_node(PlannedStmt, cplan->stmt_list);
		relid = bare_scan_of(stmt, attnos, RFM_DIRECT_SCAN_MAX_COLUMNS, &ncols);
	}
	if (!OidIsValid(relid))
	{
		ReleaseCachedPlan(cplan, NULL);
		return false;
	}
	check_permissions(stmt);
	/* the plan holds its lock; this one is released with it */
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_tableam != GetHeapamTableAmRoutine())
	{
		/* another access method may not read ranges of blocks */
		table_close(rel, AccessShareLock);
		ReleaseCachedPlan(cplan, NULL);
		return false;
	}
	desc = ExecTypeFromTL(stmt->planTree->targetlist);
	ReleaseCachedPlan(cplan, NULL);

	for (int i = 0; i < ncols; i++)
		maxatt = Max(maxatt, attnos[i]);
	heap_slot = table_slot_create(rel, NULL);
	out = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
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
	dest->rStartup(dest, CMD_SELECT, desc);
	for (;;)
	{
		bool		more = ranged ?
			table_scan_getnextslot_tidrange(scan, ForwardScanDirection, heap_slot) :
			table_scan_getnextslot(scan, ForwardScanDirection, heap_slot);

		if (!more)
			break;
		slot_getsomeattrs(heap_slot, maxatt);
		ExecClearTuple(out);
		for (int i = 0; i < ncols; i++)
		{
			if (attnos[i] == 0)
			{
				out->tts_values[i] = (Datum) 0;
				out->tts_isnull[i] = true;
			}
			else
			{
				out->tts_values[i] = heap_slot->tts_values[attnos[i] - 1];
				out->tts_isnull[i] = heap_slot->tts_isnull[attnos[i] - 1];
			}
		}
		ExecStoreVirtualTuple(out);
		/* false: the receiver wants no more rows */
		if (!dest->receiveSlot(out, dest))
			break;
	}
	dest->rShutdown(dest);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(heap_slot);
	ExecDropSingleTupleTableSlot(out);
	table_close(rel, AccessShareLock);
	return true;
}
