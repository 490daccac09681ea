/*-------------------------------------------------------------------------
 *
 * clv_fit.c
 *	  Maximum-likelihood fits of BG/NBD, Pareto/NBD and Gamma-Gamma on a
 *	  compressed customer-by-sufficient-statistic table.
 *
 * The data are the distinct (x, t_x, t_cal) rows, or (x, mean spend) for
 * Gamma-Gamma, each with the number of customers that have it, sorted:
 * BTYD's "compressed CBS".  The log-likelihood and its analytic gradient
 * are summed over those rows, so a fit costs the same for a thousand
 * customers or a million that share the rows.  Further, the terms that
 * depend on x alone (log-gamma and digamma functions) are computed once
 * per run of equal x, those that depend on a time alone (log(alpha + t))
 * once per distinct time, and Pareto/NBD's hypergeometric tail once per
 * (x, time) pair: with times in whole days, a million customers need a few
 * thousand of them.
 *
 * The optimiser is BFGS on the logs of the parameters (so they stay
 * positive), minimising the mean negative log-likelihood per customer,
 * with a backtracking line search that treats points where the likelihood
 * cannot be computed as infeasible, steps of at most a factor e^3 per
 * parameter, and log-parameters bounded by +-THETA_MAX.  It runs from
 * several starting points (the first from the data: the mean purchase
 * rate and observation time; the others spread around it by fixed factors)
 * and keeps the best.  It has converged when the largest component of the
 * gradient of the mean log-likelihood in the log-parameters is at most tol
 * (1e-8 by default); a start that stops before (iterations exhausted, a
 * line search that cannot go on, a parameter at its bound) has not.
 *
 * Data without heterogeneity in a rate (every customer dropping out with
 * nearly the same probability, say) have no maximum inside the parameter
 * space: the likelihood rises toward a limit of the model, a Beta or Gamma
 * collapsing to a point, and a pair of parameters runs off to infinity
 * with a flat gradient.  Differences of log-gamma and digamma functions
 * are therefore computed without cancellation (rfm_lgamma_ratio), and a
 * fit whose best point has a parameter beyond e^+-BOUNDARY_THETA is
 * reported as not converged, with the parameter named, however small its
 * gradient.
 * Everything is deterministic: the rows come sorted, and the same rows
 * give the same fit whatever their order or the plan that gathered them.
 *
 * Memory: besides the rows, 8 bytes per row for indexes and at most 200
 * per row in the worst case (every time distinct) for the per-time
 * scratch; rfm_clv_fit_bytes says how much, before the caller allocates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "clv_fit.h"
#include "clv_model.h"
#include "clv_special.h"

#include "miscadmin.h"

/* log-parameters stay within +-30 (1e-13 .. 1e13): beyond is not a fit */
#define THETA_MAX			30.0

/* a fit with a parameter beyond e^+-15 (3e-7 .. 3e6) is at a limit */
#define BOUNDARY_THETA		15.0

/* at most a factor e^3 per parameter in one step */
#define MAX_STEP			3.0

/* sufficient decrease of the line search, and how often it halves */
#define ARMIJO_C1			1e-4
#define MAX_BACKTRACK		60

/*
 * The mean log-likelihood is a sum of many terms: a step may look worse
 * by this much (relative) from rounding alone, and is then accepted
 */
#define NOISE				1e-14

/* consecutive steps without progress after which a start gives up */
#define MAX_STALLS			10

/* a BFGS update needs s'y above this times |s| |y| */
#define CURVATURE_MIN		1e-10

/* bytes per row the fit may need beyond the rows themselves (see above) */
#define FIT_BYTES_PER_ROW	208

/* check for interrupts every this many rows of an evaluation */
#define INTERRUPT_ROWS		65536

/* two starts whose mean log-likelihoods differ less are a tie */
#define START_MARGIN		1e-10

/*
 * a start this close (in log-parameters) to an optimum another start
 * converged to is in its basin
 */
#define JOIN_DISTANCE		1e-3

/* starting points: offsets, in log-parameters, from the data's guess */
#define MAX_OFFSETS			10
static const double start_offsets[MAX_OFFSETS][RFM_CLV_MAX_PARAMS] = {
	{0, 0, 0, 0},
	{-1, -1, 1, 1},
	{1, 1, -1, -1},
	{-1, 0, -1, 0},
	{1, 0, 1, 0},
	{0, -1, 0, -1},
	{0, 1, 0, 1},
	{-2, -2, 0, 0},
	{2, 2, 0, 0},
	{0, 0, 2, 2}
};

/* a fit in progress: the data, indexes into it, and scratch */
typedef struct Problem
{
	RfmClvKind	kind;
	const RfmClvData *data;
	int			nparams;

	/* runs of equal x: rows run_start[i] .. run_start[i + 1] - 1 */
	int64		nruns;
	int64	   *run_start;

	/* transaction models: the distinct times, and each row's two */
	int64		ntimes;
	double	   *times;
	int32	   *iu;
	int32	   *iv;
	double	   *log_alpha_t;	/* log(alpha + t) per time */
	double	   *inv_alpha_t;	/* 1 / (alpha + t) */
	double	   *log_beta_t;		/* Pareto/NBD: log(beta + t) */
	double	   *inv_beta_t;

	/* Pareto/NBD: log G and its gradient per time, for the run in stamp */
	double	   *tail;
	int64	   *tail_stamp;

	/* Gamma-Gamma: log of each row's mean spend */
	double	   *log_u;
} Problem;

int
rfm_clv_nparams(RfmClvKind kind)
{
	return kind == RFM_CLV_GG ? 3 : 4;
}

/* memory a fit of ntuples rows needs beyond the rows (an upper bound) */
Size
rfm_clv_fit_bytes(RfmClvKind kind, int64 ntuples)
{
	return (Size) ntuples * FIT_BYTES_PER_ROW;
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static int32
time_index(const Problem *pb, double t)
{
	int64		lo = 0,
				hi = pb->ntimes - 1;

	while (lo < hi)
	{
		int64		mid = (lo + hi) / 2;

		if (pb->times[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int32) lo;
}

static void
prepare(Problem *pb, RfmClvKind kind, const RfmClvData *data)
{
	int64		n = data->ntuples;

	memset(pb, 0, sizeof(Problem));
	pb->kind = kind;
	pb->data = data;
	pb->nparams = rfm_clv_nparams(kind);

	pb->run_start = palloc_extended((n + 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		if (i == 0 || data->x[i] != data->x[i - 1])
			pb->run_start[pb->nruns++] = i;
	pb->run_start[pb->nruns] = n;

	if (kind == RFM_CLV_GG)
	{
		pb->log_u = palloc_extended(n * sizeof(double), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < n; i++)
			pb->log_u[i] = log(data->u[i]);
		return;
	}

	/* the distinct times among t_x and t_cal */
	pb->times = palloc_extended(2 * n * sizeof(double), MCXT_ALLOC_HUGE);
	memcpy(pb->times, data->u, n * sizeof(double));
	memcpy(pb->times + n, data->v, n * sizeof(double));
	qsort(pb->times, 2 * n, sizeof(double), double_cmp);
	for (int64 i = 0; i < 2 * n; i++)
		if (pb->ntimes == 0 || pb->times[i] != pb->times[pb->ntimes - 1])
			pb->times[pb->ntimes++] = pb->times[i];
	pb->iu = palloc_extended(n * sizeof(int32), MCXT_ALLOC_HUGE);
	pb->iv = palloc_extended(n * sizeof(int32), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
	{
		pb->iu[i] = time_index(pb, data->u[i]);
		pb->iv[i] = time_index(pb, data->v[i]);
	}
	pb->log_alpha_t = palloc_extended(pb->ntimes * sizeof(double), MCXT_ALLOC_HUGE);
	pb->inv_alpha_t = palloc_extended(pb->ntimes * sizeof(double), MCXT_ALLOC_HUGE);
	if (kind == RFM_CLV_PNBD)
	{
		pb->log_beta_t = palloc_extended(pb->ntimes * sizeof(double), MCXT_ALLOC_HUGE);
		pb->inv_beta_t = palloc_extended(pb->ntimes * sizeof(double), MCXT_ALLOC_HUGE);
		pb->tail = palloc_extended(pb->ntimes * (1 + RFM_TAIL_NGRAD) * sizeof(double),
								   MCXT_ALLOC_HUGE);
		pb->tail_stamp = palloc_extended(pb->ntimes * sizeof(int64), MCXT_ALLOC_HUGE);
	}
}

static void
free_problem(Problem *pb)
{
	void	   *arrays[] = {pb->run_start, pb->times, pb->iu, pb->iv,
		pb->log_alpha_t, pb->inv_alpha_t, pb->log_beta_t, pb->inv_beta_t,
	pb->tail, pb->tail_stamp, pb->log_u};

	for (int i = 0; i < (int) lengthof(arrays); i++)
		if (arrays[i])
			pfree(arrays[i]);
}

/*
 * BG/NBD, Fader & Hardie's note 027 form, which never forms the ratio of
 * huge powers that gave Excel its #NUM!:
 *
 *	 LL = A1 + A2 + log(exp(A3) + [x > 0] exp(A4))
 *	 A1 = lgamma(r+x) - lgamma(r) + r log alpha
 *	 A2 = lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
 *	 A3 = -(r+x) log(alpha+T)
 *	 A4 = log a - log(b+x-1) - (r+x) log(alpha+t_x)
 *
 * the last as max + log(1 + exp(min - max)).
 */
static double
bgnbd_objective(Problem *pb, const double *theta, double *grad, double *ll)
{
	const RfmClvData *d = pb->data;
	double		r = exp(theta[0]);
	double		alpha = exp(theta[1]);
	double		a = exp(theta[2]);
	double		b = exp(theta[3]);
	double		log_alpha = theta[1];
	double		sum = 0;
	double		g[4] = {0, 0, 0, 0};

	for (int64 j = 0; j < pb->ntimes; j++)
	{
		pb->log_alpha_t[j] = log(alpha + pb->times[j]);
		pb->inv_alpha_t[j] = 1 / (alpha + pb->times[j]);
	}
	for (int64 run = 0; run < pb->nruns; run++)
	{
		int64		first = pb->run_start[run];
		int64		last = pb->run_start[run + 1];
		int32		x = d->x[first];
		double		A12 = rfm_lgamma_ratio(r, x) + r * log_alpha +
			rfm_lgamma_ratio(b, x) - rfm_lgamma_ratio(a + b, x);
		double		dr = rfm_digamma_diff(r, x) + log_alpha;
		double		da = -rfm_digamma_diff(a + b, x);
		double		db = da + rfm_digamma_diff(b, x);
		double		c4 = x > 0 ? log(a) - log(b + x - 1) : 0;
		double		rx = r + x;

		CHECK_FOR_INTERRUPTS();
		for (int64 i = first; i < last; i++)
		{
			double		c = d->count[i];
			int32		iT = pb->iv[i];
			double		A3 = -rx * pb->log_alpha_t[iT];
			double		lse = A3;
			double		w = 0;	/* weight of the A4 term */
			double		dlog_alpha_r;
			double		dalpha;

			if (x > 0)
			{
				int32		ix = pb->iu[i];
				double		A4 = c4 - rx * pb->log_alpha_t[ix];

				if (A4 > A3)
				{
					double		e = exp(A3 - A4);

					lse = A4 + log1p(e);
					w = 1 / (1 + e);
				}
				else
				{
					double		e = exp(A4 - A3);

					lse = A3 + log1p(e);
					w = e / (1 + e);
				}
				dlog_alpha_r = (1 - w) * pb->log_alpha_t[iT] + w * pb->log_alpha_t[ix];
				dalpha = (1 - w) * pb->inv_alpha_t[iT] + w * pb->inv_alpha_t[ix];
			}
			else
			{
				dlog_alpha_r = pb->log_alpha_t[iT];
				dalpha = pb->inv_alpha_t[iT];
			}
			sum += c * (A12 + lse);
			g[0] += c * (dr - dlog_alpha_r);
			g[1] += c * (r / alpha - rx * dalpha);
			g[2] += c * (da + (x > 0 ? w / a : 0));
			g[3] += c * (db - (x > 0 ? w / (b + x - 1) : 0));
		}
	}
	*ll = sum;
	/* d/dtheta = param * d/dparam, of the mean negative log-likelihood */
	grad[0] = -g[0] * r / d->customers;
	grad[1] = -g[1] * alpha / d->customers;
	grad[2] = -g[2] * a / d->customers;
	grad[3] = -g[3] * b / d->customers;
	return -sum / d->customers;
}

/* log G and its gradient at time index j for the current run (cached) */
static const double *
pnbd_tail(Problem *pb, int64 run, int32 j, double k, double s, double alpha,
		  double beta)
{
	double	   *entry = pb->tail + (Size) j * (1 + RFM_TAIL_NGRAD);

	if (pb->tail_stamp[j] != run)
	{
		entry[0] = rfm_pnbd_log_tail(k, s, alpha, beta, pb->times[j], entry + 1);
		pb->tail_stamp[j] = run;
	}
	return entry;
}

/*
 * Pareto/NBD: LL = lgamma(r+x) - lgamma(r) + r log alpha + s log beta +
 * log(A + s (G(t_x) - G(T))), A = (alpha+T)^-(r+x) (beta+T)^-s, in logs
 * scaled by the larger of A and G(t_x) (clv_model.c has G).
 */
static double
pnbd_objective(Problem *pb, const double *theta, double *grad, double *ll)
{
	const RfmClvData *d = pb->data;
	double		r = exp(theta[0]);
	double		alpha = exp(theta[1]);
	double		s = exp(theta[2]);
	double		beta = exp(theta[3]);
	double		sum = 0;
	double		g[4] = {0, 0, 0, 0};

	for (int64 j = 0; j < pb->ntimes; j++)
	{
		pb->log_alpha_t[j] = log(alpha + pb->times[j]);
		pb->inv_alpha_t[j] = 1 / (alpha + pb->times[j]);
		pb->log_beta_t[j] = log(beta + pb->times[j]);
		pb->inv_beta_t[j] = 1 / (beta + pb->times[j]);
		pb->tail_stamp[j] = -1;
	}
	for (int64 run = 0; run < pb->nruns; run++)
	{
		int64		first = pb->run_start[run];
		int64		last = pb->run_start[run + 1];
		int32		x = d->x[first];
		double		k = r + x;
		double		C = rfm_lgamma_ratio(r, x) + r * theta[1] + s * theta[3];
		double		dC[4];

		dC[0] = rfm_digamma_diff(r, x) + theta[1];
		dC[1] = r / alpha;
		dC[2] = theta[3];
		dC[3] = s / beta;
		CHECK_FOR_INTERRUPTS();
		for (int64 i = first; i < last; i++)
		{
			double		c = d->count[i];
			int32		ix = pb->iu[i];
			int32		iT = pb->iv[i];
			double		lt = -k * pb->log_alpha_t[iT] - s * pb->log_beta_t[iT];
			double		dlt[4];
			double		term[4];

			dlt[0] = -pb->log_alpha_t[iT];
			dlt[1] = -k * pb->inv_alpha_t[iT];
			dlt[2] = -pb->log_beta_t[iT];
			dlt[3] = -s * pb->inv_beta_t[iT];
			if (ix == iT)
			{
				/* t_x = T: no time to have died in */
				sum += c * (C + lt);
				for (int p = 0; p < 4; p++)
					g[p] += c * (dC[p] + dlt[p]);
			}
			else
			{
				const double *t1 = pnbd_tail(pb, run, ix, k, s, alpha, beta);
				const double *t2 = pnbd_tail(pb, run, iT, k, s, alpha, beta);
				double		M;
				double		e1;
				double		g1;
				double		g2;
				double		I;
				double		D;

				if (isnan(t1[0]) || isnan(t2[0]))
					return NAN;
				M = Max(lt, t1[0]);
				e1 = exp(lt - M);
				g1 = exp(t1[0] - M);
				g2 = exp(t2[0] - M);
				I = Max(g1 - g2, 0);
				D = e1 + s * I;
				sum += c * (C + M + log(D));
				for (int p = 0; p < 4; p++)
					term[p] = e1 * dlt[p] + s * (g1 * t1[1 + p] - g2 * t2[1 + p]);
				term[2] += I;
				for (int p = 0; p < 4; p++)
					g[p] += c * (dC[p] + term[p] / D);
			}
		}
	}
	*ll = sum;
	grad[0] = -g[0] * r / d->customers;
	grad[1] = -g[1] * alpha / d->customers;
	grad[2] = -g[2] * s / d->customers;
	grad[3] = -g[3] * beta / d->customers;
	return -sum / d->customers;
}

/*
 * Gamma-Gamma on customers with x repeat purchases of mean spend m:
 *
 *	 LL = lgamma(px+q) - lgamma(px) - lgamma(q) + q log v + (px-1) log m
 *		  + px log x - (px+q) log(v + m x)
 */
static double
gg_objective(Problem *pb, const double *theta, double *grad, double *ll)
{
	const RfmClvData *d = pb->data;
	double		p = exp(theta[0]);
	double		q = exp(theta[1]);
	double		v = exp(theta[2]);
	double		log_v = theta[2];
	double		sum = 0;
	double		g[3] = {0, 0, 0};

	for (int64 run = 0; run < pb->nruns; run++)
	{
		int64		first = pb->run_start[run];
		int64		last = pb->run_start[run + 1];
		int32		x = d->x[first];
		double		px = p * x;
		double		log_x = log(x);
		double		LG = rfm_lgamma_ratio(px, q) - lgamma(q) + q * log_v +
			px * log_x;
		double		dp = x * (rfm_digamma_diff(px, q) + log_x);
		double		dq = rfm_digamma_diff(q, px) + log_v;

		for (int64 i = first; i < last; i++)
		{
			double		c = d->count[i];
			double		vmx = v + d->u[i] * x;
			double		L = log(vmx);

			if ((i - first) % INTERRUPT_ROWS == 0)
				CHECK_FOR_INTERRUPTS();
			sum += c * (LG + (px - 1) * pb->log_u[i] - (px + q) * L);
			g[0] += c * (dp + x * (pb->log_u[i] - L));
			g[1] += c * (dq - L);
			g[2] += c * (q / v - (px + q) / vmx);
		}
	}
	*ll = sum;
	grad[0] = -g[0] * p / d->customers;
	grad[1] = -g[1] * q / d->customers;
	grad[2] = -g[2] * v / d->customers;
	return -sum / d->customers;
}

static double
objective(Problem *pb, const double *theta, double *grad, double *ll)
{
	double		f;

	for (int i = 0; i < pb->nparams; i++)
		if (!(fabs(theta[i]) <= THETA_MAX))
			return NAN;
	switch (pb->kind)
	{
		case RFM_CLV_BGNBD:
			f = bgnbd_objective(pb, theta, grad, ll);
			break;
		case RFM_CLV_PNBD:
			f = pnbd_objective(pb, theta, grad, ll);
			break;
		default:
			f = gg_objective(pb, theta, grad, ll);
			break;
	}
	for (int i = 0; i < pb->nparams; i++)
		if (!isfinite(grad[i]))
			return NAN;
	return isfinite(f) ? f : NAN;
}

static double
max_abs(const double *v, int n)
{
	double		m = 0;

	for (int i = 0; i < n; i++)
		m = Max(m, fabs(v[i]));
	return m;
}

/*
 * BFGS from theta (updated in place) on the inverse Hessian H.  Returns
 * the number of iterations; fills f, ll, the gradient's largest component
 * and whether it is within tol.
 */
static int
bfgs(Problem *pb, double *theta, int max_iter, double tol,
	 const double *best_theta, double best_f, double *f_out, double *ll_out,
	 double *gmax_out, bool *converged, bool *joined)
{
	int			n = pb->nparams;
	double		H[RFM_CLV_MAX_PARAMS][RFM_CLV_MAX_PARAMS];
	double		g[RFM_CLV_MAX_PARAMS];
	double		ll;
	double		f = objective(pb, theta, g, &ll);
	bool		identity = true;
	int			iter = 0;
	int			stalls = 0;

	*converged = false;
	*joined = false;
	if (isnan(f))
	{
		*f_out = NAN;
		return 0;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			H[i][j] = i == j ? 1 : 0;

	while (iter < max_iter)
	{
		double		d[RFM_CLV_MAX_PARAMS];
		double		slope = 0;
		double		dmax;
		double		step = 1;
		double		theta_new[RFM_CLV_MAX_PARAMS];
		double		g_new[RFM_CLV_MAX_PARAMS];
		double		f_new = NAN;
		double		ll_new = 0;
		bool		accepted = false;
		double		sv[RFM_CLV_MAX_PARAMS];
		double		yv[RFM_CLV_MAX_PARAMS];
		double		sy = 0,
					yy = 0,
					ss = 0;

		CHECK_FOR_INTERRUPTS();
		if (max_abs(g, n) <= tol)
		{
			*converged = true;
			break;
		}
		iter++;
		for (int i = 0; i < n; i++)
		{
			d[i] = 0;
			for (int j = 0; j < n; j++)
				d[i] -= H[i][j] * g[j];
			slope += d[i] * g[i];
		}
		if (!(slope < 0))
		{
			/* not a descent direction: start over from steepest descent */
			for (int i = 0; i < n; i++)
			{
				for (int j = 0; j < n; j++)
					H[i][j] = i == j ? 1 : 0;
				d[i] = -g[i];
			}
			identity = true;
			slope = 0;
			for (int i = 0; i < n; i++)
				slope -= g[i] * g[i];
		}
		dmax = max_abs(d, n);
		if (dmax > MAX_STEP)
			step = MAX_STEP / dmax;

		for (int k = 0; k < MAX_BACKTRACK; k++)
		{
			for (int i = 0; i < n; i++)
				theta_new[i] = theta[i] + step * d[i];
			f_new = objective(pb, theta_new, g_new, &ll_new);
			if (!isnan(f_new) &&
				f_new <= f + ARMIJO_C1 * step * slope + NOISE * (1 + fabs(f)))
			{
				accepted = true;
				break;
			}
			/* minimum of the quadratic through f, slope and f_new, kept sane */
			if (!isnan(f_new))
			{
				double		t = -slope * step * step / (2 * (f_new - f - slope * step));

				step = Max(Min(t, 0.5 * step), 0.1 * step);
			}
			else
				step *= 0.1;
		}
		if (!accepted)
		{
			if (identity)
				break;			/* steepest descent cannot go on either */
			for (int i = 0; i < n; i++)
				for (int j = 0; j < n; j++)
					H[i][j] = i == j ? 1 : 0;
			identity = true;
			continue;
		}

		for (int i = 0; i < n; i++)
		{
			sv[i] = theta_new[i] - theta[i];
			yv[i] = g_new[i] - g[i];
			sy += sv[i] * yv[i];
			yy += yv[i] * yv[i];
			ss += sv[i] * sv[i];
		}

		/*
		 * Steps that change f by no more than rounding, many times running,
		 * mean the gradient cannot get within tol: stop, not converged.
		 */
		if (f - f_new <= NOISE * (1 + fabs(f)))
		{
			if (++stalls >= MAX_STALLS)
			{
				memcpy(theta, theta_new, n * sizeof(double));
				memcpy(g, g_new, n * sizeof(double));
				f = f_new;
				ll = ll_new;
				break;
			}
		}
		else
			stalls = 0;

		/* update H only where the curvature along the step is positive */
		if (sy > CURVATURE_MIN * sqrt(ss * yy))
		{
			double		rho = 1 / sy;
			double		Hy[RFM_CLV_MAX_PARAMS];
			double		yHy = 0;

			if (identity)
			{
				/* scale the first guess of H by the curvature seen */
				for (int i = 0; i < n; i++)
					H[i][i] = sy / yy;
				identity = false;
			}
			for (int i = 0; i < n; i++)
			{
				Hy[i] = 0;
				for (int j = 0; j < n; j++)
					Hy[i] += H[i][j] * yv[j];
				yHy += yv[i] * Hy[i];
			}
			/* H += (1 + rho yHy) rho s s' - rho (Hy s' + s Hy') */
			for (int i = 0; i < n; i++)
				for (int j = 0; j < n; j++)
					H[i][j] += (1 + rho * yHy) * rho * sv[i] * sv[j] -
						rho * (Hy[i] * sv[j] + sv[i] * Hy[j]);
		}
		memcpy(theta, theta_new, n * sizeof(double));
		memcpy(g, g_new, n * sizeof(double));
		f = f_new;
		ll = ll_new;

		/* a start heading for a limit of the model has no optimum to find */
		if (max_abs(theta, n) > BOUNDARY_THETA)
			break;

		/*
		 * A start that has come within JOIN_DISTANCE of the optimum an
		 * earlier start converged to, no better than it, would only find
		 * it again: stop it.
		 */
		if (best_theta && f >= best_f - START_MARGIN * (1 + fabs(f)))
		{
			double		dist = 0;

			for (int i = 0; i < n; i++)
				dist = Max(dist, fabs(theta[i] - best_theta[i]));
			if (dist < JOIN_DISTANCE)
			{
				*joined = true;
				break;
			}
		}
	}
	if (!*converged && max_abs(g, n) <= tol)
		*converged = true;
	*f_out = f;
	*ll_out = ll;
	*gmax_out = max_abs(g, n);
	return iter;
}

/* the data's guess of the parameters, in logs */
static void
first_guess(const Problem *pb, double *theta)
{
	const RfmClvData *d = pb->data;
	double		sum_x = 0;
	double		sum_u = 0;
	double		sum_v = 0;

	for (int64 i = 0; i < d->ntuples; i++)
	{
		sum_x += d->count[i] * d->x[i];
		sum_u += d->count[i] * d->u[i];
		sum_v += d->count[i] * d->v[i];
	}
	switch (pb->kind)
	{
		case RFM_CLV_BGNBD:
			/* r = 1 and alpha = 1 / rate: the mean rate is the data's */
			theta[0] = 0;
			theta[1] = log(sum_v / sum_x);
			theta[2] = 0;
			theta[3] = 0;
			break;
		case RFM_CLV_PNBD:
			/* and a mean lifetime of the mean observation time */
			theta[0] = 0;
			theta[1] = log(sum_v / sum_x);
			theta[2] = 0;
			theta[3] = log(sum_v / d->customers);
			break;
		default:
			/* p = 1, q = 2: a mean spend of v, the data's */
			theta[0] = 0;
			theta[1] = M_LN2;
			theta[2] = log(sum_u / d->customers);
			break;
	}
}

/*
 * Fit a model to data by maximum likelihood, from options->starts starting
 * points, keeping the best.  The caller checks the data (enough customers,
 * some repeat purchases, valid rows) and reports non-convergence.  fit->ll
 * is NaN when no start could even be evaluated.
 */
void
rfm_clv_fit(RfmClvKind kind, const RfmClvData *data,
			const RfmClvOptions *options, RfmClvFit *fit)
{
	Problem		pb;
	double		guess[RFM_CLV_MAX_PARAMS];
	double		best_theta[RFM_CLV_MAX_PARAMS];
	double		best_f = INFINITY;

	prepare(&pb, kind, data);
	first_guess(&pb, guess);
	memset(fit, 0, sizeof(RfmClvFit));
	fit->ll = NAN;
	for (int s = 0; s < options->starts; s++)
	{
		double		theta[RFM_CLV_MAX_PARAMS];
		double		f;
		double		ll = NAN;
		double		gmax = NAN;
		bool		converged;
		bool		joined;
		int			iterations;

		for (int i = 0; i < pb.nparams; i++)
			theta[i] = guess[i] + start_offsets[s % MAX_OFFSETS][i] * (1 + s / MAX_OFFSETS);
		iterations = bfgs(&pb, theta, options->max_iter, options->tol,
						  fit->converged ? best_theta : NULL, best_f,
						  &f, &ll, &gmax, &converged, &joined);

		/*
		 * The lowest f wins; within rounding of it, a start that converged
		 * wins over one that did not.
		 */
		if (isnan(f) || joined)
			continue;
		if (isnan(fit->ll) || f < best_f - START_MARGIN * (1 + fabs(f)) ||
			(f <= best_f + START_MARGIN * (1 + fabs(f)) && converged && !fit->converged))
		{
			best_f = f;
			memcpy(best_theta, theta, sizeof(theta));
			for (int i = 0; i < pb.nparams; i++)
				fit->params[i] = exp(theta[i]);
			fit->ll = ll;
			fit->iterations = iterations;
			fit->converged = converged;
			fit->gradient = gmax;
		}
	}
	/* a "converged" point out at a limit of the model is not a fit */
	fit->boundary = -1;
	for (int i = 0; i < pb.nparams && !isnan(fit->ll); i++)
		if (fabs(log(fit->params[i])) > BOUNDARY_THETA)
		{
			fit->boundary = i;
			fit->converged = false;
			break;
		}
	free_problem(&pb);
}
