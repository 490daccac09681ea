/*-------------------------------------------------------------------------
 *
 * clv_model.c
 *	  The mathematics of one customer under the buy-till-you-die models
 *	  (BG/NBD, Pareto/NBD) and the Gamma-Gamma spend model: P(alive),
 *	  expected purchases, expected spend and discounted purchases.
 *
 * A customer is (x, t_x, T): x repeat purchases, the last at t_x, observed
 * until T, times counted from the first purchase.  While alive, a customer
 * buys at a rate lambda ~ Gamma(r, alpha).  Under BG/NBD they may drop out
 * after each purchase with probability p ~ Beta(a, b); under Pareto/NBD
 * they drop out at a rate mu ~ Gamma(s, beta).  Spend per purchase follows
 * Gamma-Gamma: Gamma(p, nu) with nu ~ Gamma(q, v).  The formulas are those
 * of Fader, Hardie & Lee (2005) and Fader & Hardie's notes; where the
 * textbook form is unstable it is rewritten, as said below.  Inputs are
 * checked by the callers (clv.c); a result that cannot be computed is NaN.
 *
 * Pareto/NBD.  The likelihood of a customer is
 *
 *	 Gamma(r+x) alpha^r beta^s / Gamma(r) *
 *	   [ (alpha+T)^-(r+x) (beta+T)^-s  +  s I ],
 *	 I = int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,
 *
 * the first term for a customer still alive at T, the second for one who
 * died at tau between t_x and T.  I = G(t_x) - G(T) with G(t) the integral
 * from t to infinity, which is a Gauss hypergeometric function: expanding
 * around the larger of alpha and beta,
 *
 *	 alpha >= beta:  G = (alpha+t)^-k (beta+t)^-s / (k+s) Phi(k, s+1, z),
 *					 z = (alpha - beta) / (alpha + t)
 *	 alpha <  beta:  G = (beta+t)^-(s+1) (alpha+t)^(1-k) / (k+s)
 *					 Phi(s+1, k, z), z = (beta - alpha) / (beta + t)
 *
 * with k = r + x and Phi(p, q, z) = 2F1(p, 1; p+q; z) (Euler's
 * transformation of the 2F1(r+s+x, s+1; r+s+x+1; z) of the literature,
 * whose series has positive terms with ratio below z).  Both branches give
 * the same value at alpha = beta (z = 0, Phi = 1), so nothing is singular
 * there, and clv_special.c computes Phi up to z -> 1.  P(alive) is the
 * share of the first term.
 *
 * BG/NBD.  P(alive) = 1 / (1 + [x > 0] a / (b+x-1) ((alpha+T) /
 * (alpha+t_x))^(r+x)), in logs.  Expected purchases of a customer alive
 * now over the next t are the mean of (1 - (1 + P c)^-k) / P over the
 * posterior P ~ Beta(a, b+x), c = t / (alpha+T), k = r+x
 * (rfm_beta_mixture), so no division by a - 1 is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv_model.h"
#include "clv_special.h"

/*
 * log G(t) and, when grad is not NULL, its derivatives in k (= r + x),
 * alpha, s and beta (RFM_TAIL_*).  NaN when Phi cannot be computed.
 */
float8
rfm_pnbd_log_tail(float8 k, float8 s, float8 alpha, float8 beta, float8 t,
				  float8 *grad)
{
	double		at = alpha + t;
	double		bt = beta + t;
	double		log_at = log(at);
	double		log_bt = log(bt);
	double		phi_grad[RFM_PHI_NGRAD];
	double		log_phi;

	if (alpha >= beta)
	{
		/* z = (alpha - beta) / (alpha + t), 1 - z = (beta + t) / (alpha + t) */
		log_phi = rfm_log_hyp2f1_phi(k, s + 1, (alpha - beta) / at, bt / at,
									 grad ? phi_grad : NULL);
		if (grad)
		{
			grad[RFM_TAIL_DK] = -log_at - 1 / (k + s) + phi_grad[RFM_PHI_DP];
			grad[RFM_TAIL_DS] = -log_bt - 1 / (k + s) + phi_grad[RFM_PHI_DQ];
			grad[RFM_TAIL_DALPHA] = -k / at + phi_grad[RFM_PHI_DZ] * bt / (at * at);
			grad[RFM_TAIL_DBETA] = -s / bt - phi_grad[RFM_PHI_DZ] / at;
		}
		return -k * log_at - s * log_bt - log(k + s) + log_phi;
	}
	log_phi = rfm_log_hyp2f1_phi(s + 1, k, (beta - alpha) / bt, at / bt,
								 grad ? phi_grad : NULL);
	if (grad)
	{
		grad[RFM_TAIL_DK] = -log_at - 1 / (k + s) + phi_grad[RFM_PHI_DQ];
		grad[RFM_TAIL_DS] = -log_bt - 1 / (k + s) + phi_grad[RFM_PHI_DP];
		grad[RFM_TAIL_DALPHA] = (1 - k) / at - phi_grad[RFM_PHI_DZ] / bt;
		grad[RFM_TAIL_DBETA] = -(s + 1) / bt + phi_grad[RFM_PHI_DZ] * at / (bt * bt);
	}
	return -(s + 1) * log_bt + (1 - k) * log_at - log(k + s) + log_phi;
}

/* BG/NBD: probability that the customer is alive at T */
static double
bgnbd_p_alive(const RfmBgnbd *m, int32 x, float8 t_x, float8 t_cal)
{
	double		log_odds;

	if (x == 0)
		return 1;
	/* log of a / (b+x-1) ((alpha+T) / (alpha+t_x))^(r+x), the odds of death */
	log_odds = log(m->a) - log(m->b + x - 1) +
		(m->r + x) * log1p((t_cal - t_x) / (m->alpha + t_x));
	if (log_odds > 0)
		return exp(-log_odds) / (1 + exp(-log_odds));
	return 1 / (1 + exp(log_odds));
}

/* BG/NBD: expected purchases in (T, T + t] given the customer's history */
static double
bgnbd_expected(const RfmBgnbd *m, float8 t, int32 x, float8 t_x,
				   float8 t_cal)
{
	return bgnbd_p_alive(m, x, t_x, t_cal) *
		rfm_beta_mixture(m->r + x, m->a, m->b + x, t / (m->alpha + t_cal));
}

/* BG/NBD: expected purchases in (0, t] of a new customer */
static double
bgnbd_expected_new(const RfmBgnbd *m, float8 t)
{
	return rfm_beta_mixture(m->r, m->a, m->b, t / m->alpha);
}

/* Pareto/NBD: probability that the customer is alive at T */
static double
pnbd_p_alive(const RfmPnbd *m, int32 x, float8 t_x, float8 t_cal)
{
	double		k = m->r + x;
	double		log_alive;		/* log of the first term */
	double		log_g1;
	double		log_g2;
	double		log_dead;		/* log of s I */

	if (t_x >= t_cal)
		return 1;
	log_alive = -k * log(m->alpha + t_cal) - m->s * log(m->beta + t_cal);
	log_g1 = rfm_pnbd_log_tail(k, m->s, m->alpha, m->beta, t_x, NULL);
	log_g2 = rfm_pnbd_log_tail(k, m->s, m->alpha, m->beta, t_cal, NULL);
	if (isnan(log_g1) || isnan(log_g2))
		return NAN;
	if (log_g2 >= log_g1)
		return 1;
	/* I = G(t_x) - G(T) = G(t_x) (1 - G(T) / G(t_x)) */
	log_dead = log(m->s) + log_g1 + log1p(-exp(log_g2 - log_g1));
	if (log_dead > log_alive)
		return exp(log_alive - log_dead) / (1 + exp(log_alive - log_dead));
	return 1 / (1 + exp(log_dead - log_alive));
}

/*
 * Pareto/NBD: expected purchases over the next t of a customer alive now,
 * with purchase rate posterior Gamma(k, alpha') and dropout posterior
 * Gamma(s, beta'):  k / alpha' * beta' / (s - 1) * (1 - (beta' / (beta' +
 * t))^(s-1)), written as k / alpha' * beta' L expm1r(-(s-1) L), L =
 * log1p(t / beta'), which holds at s = 1 (beta' L there).
 */
static double
pnbd_expected_alive(double k, double alpha, double s, double beta, double t)
{
	double		L = log1p(t / beta);

	return k / alpha * beta * L * rfm_expm1_ratio(-(s - 1) * L);
}

/* Pareto/NBD: expected purchases in (T, T + t] given the history */
static double
pnbd_expected(const RfmPnbd *m, float8 t, int32 x, float8 t_x,
				  float8 t_cal)
{
	return pnbd_p_alive(m, x, t_x, t_cal) *
		pnbd_expected_alive(m->r + x, m->alpha + t_cal, m->s, m->beta + t_cal, t);
}

/* Pareto/NBD: expected purchases in (0, t] of a new customer */
static double
pnbd_expected_new(const RfmPnbd *m, float8 t)
{
	return pnbd_expected_alive(m->r, m->alpha, m->s, m->beta, t);
}

/*
 * Discounted expected purchases over (0, horizon] from a function of the
 * expected purchases up to t (of a customer alive now; P(alive) is
 * applied by the caller).  Purchases of period j, (j-1, min(j, horizon)],
 * are discounted by (1 + rate)^-min(j, horizon), as if made at the end of
 * the period.  Without discounting the sum is the expectation at horizon.
 */
typedef double (*ExpectedAlive) (const void *model, int32 x, float8 t_cal,
								 double t);

static double
discounted(ExpectedAlive expected, const void *model, int32 x, float8 t_cal,
		   double horizon, double rate)
{
	double		total = 0;
	double		previous = 0;
	double		log_factor = log1p(rate);
	int64		periods = (int64) ceil(horizon);

	if (rate == 0)
		return expected(model, x, t_cal, horizon);
	for (int64 j = 1; j <= periods; j++)
	{
		double		end = Min((double) j, horizon);
		double		current = expected(model, x, t_cal, end);

		total += (current - previous) * exp(-end * log_factor);
		previous = current;
	}
	return total;
}

static double
bgnbd_expected_alive(const void *model, int32 x, float8 t_cal, double t)
{
	const RfmBgnbd *m = model;

	return rfm_beta_mixture(m->r + x, m->a, m->b + x, t / (m->alpha + t_cal));
}

static double
pnbd_expected_alive_of(const void *model, int32 x, float8 t_cal, double t)
{
	const RfmPnbd *m = model;

	return pnbd_expected_alive(m->r + x, m->alpha + t_cal, m->s,
							   m->beta + t_cal, t);
}

/* BG/NBD: discounted expected purchases over (T, T + horizon] */
static double
bgnbd_discounted(const RfmBgnbd *m, int32 x, float8 t_x, float8 t_cal,
					 float8 horizon, float8 discount_rate)
{
	return bgnbd_p_alive(m, x, t_x, t_cal) *
		discounted(bgnbd_expected_alive, m, x, t_cal, horizon, discount_rate);
}

/* Pareto/NBD: discounted expected purchases over (T, T + horizon] */
static double
pnbd_discounted(const RfmPnbd *m, int32 x, float8 t_x, float8 t_cal,
					float8 horizon, float8 discount_rate)
{
	return pnbd_p_alive(m, x, t_x, t_cal) *
		discounted(pnbd_expected_alive_of, m, x, t_cal, horizon, discount_rate);
}

/*
 * Gamma-Gamma: expected spend per purchase given x repeat purchases of
 * mean spend m, p (v + x m) / (p x + q - 1), a weighted mean of the
 * population's p v / (q - 1) and the customer's own m.  Without a known
 * spend (x = 0, or no amount) it is the population's.  NaN when the mean
 * does not exist (p x + q <= 1, which for x = 0 is q <= 1).
 */
float8
rfm_gg_expected_spend(const RfmGg *m, int32 x, float8 mean_spend,
					  bool has_spend)
{
	if (x == 0 || !has_spend)
		return m->q > 1 ? m->p * m->v / (m->q - 1) : NAN;
	if (m->p * x + m->q <= 1)
		return NAN;
	return m->p * (m->v + x * mean_spend) / (m->p * x + m->q - 1);
}

/* the transaction models' functions, whichever the model */
float8
rfm_tm_p_alive(const RfmTransactionModel *m, int32 x, float8 t_x, float8 t_cal)
{
	if (m->kind == RFM_CLV_BGNBD)
		return bgnbd_p_alive(&m->bgnbd, x, t_x, t_cal);
	return pnbd_p_alive(&m->pnbd, x, t_x, t_cal);
}

float8
rfm_tm_expected(const RfmTransactionModel *m, float8 t, int32 x, float8 t_x,
				float8 t_cal)
{
	if (m->kind == RFM_CLV_BGNBD)
		return bgnbd_expected(&m->bgnbd, t, x, t_x, t_cal);
	return pnbd_expected(&m->pnbd, t, x, t_x, t_cal);
}

float8
rfm_tm_expected_new(const RfmTransactionModel *m, float8 t)
{
	if (m->kind == RFM_CLV_BGNBD)
		return bgnbd_expected_new(&m->bgnbd, t);
	return pnbd_expected_new(&m->pnbd, t);
}

float8
rfm_tm_discounted(const RfmTransactionModel *m, int32 x, float8 t_x,
				  float8 t_cal, float8 horizon, float8 discount_rate)
{
	if (m->kind == RFM_CLV_BGNBD)
		return bgnbd_discounted(&m->bgnbd, x, t_x, t_cal, horizon, discount_rate);
	return pnbd_discounted(&m->pnbd, x, t_x, t_cal, horizon, discount_rate);
}
