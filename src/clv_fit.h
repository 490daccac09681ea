/*-------------------------------------------------------------------------
 *
 * clv_fit.h
 *	  Maximum-likelihood fits of BG/NBD, Pareto/NBD and Gamma-Gamma on a
 *	  compressed customer-by-sufficient-statistic table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLV_FIT_H
#define RFM_CLV_FIT_H

#include "clv_model.h"

/* most parameters of a model (BG/NBD and Pareto/NBD have four) */
#define RFM_CLV_MAX_PARAMS	4

/*
 * The distinct rows of the data and how many customers have each, sorted
 * by (x, u, v): (x, t_x, t_cal) for the transaction models, (x, mean
 * spend) for Gamma-Gamma (v unused, 0).
 */
typedef struct RfmClvData
{
	int64		ntuples;
	int64		customers;		/* sum of the counts */
	const int32 *x;
	const float8 *u;
	const float8 *v;
	const float8 *count;
} RfmClvData;

typedef struct RfmClvOptions
{
	int32		starts;			/* starting points tried */
	int32		max_iter;		/* quasi-Newton iterations per start */
	float8		tol;			/* on the largest gradient component of the
								 * mean log-likelihood in log-parameters */
} RfmClvOptions;

typedef struct RfmClvFit
{
	float8		params[RFM_CLV_MAX_PARAMS];
	float8		ll;				/* log-likelihood at params */
	int32		iterations;		/* of the start that won */
	bool		converged;
	float8		gradient;		/* largest gradient component at params */
	int			boundary;		/* a parameter gone to a limit, or -1 */
} RfmClvFit;

extern int	rfm_clv_nparams(RfmClvKind kind);
extern Size rfm_clv_fit_bytes(RfmClvKind kind, int64 ntuples);
extern void rfm_clv_fit(RfmClvKind kind, const RfmClvData *data,
						const RfmClvOptions *options, RfmClvFit *fit);

#endif							/* RFM_CLV_FIT_H */
