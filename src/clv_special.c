/*-------------------------------------------------------------------------
 *
 * clv_special.c
 *	  Special functions of the customer-lifetime-value models: digamma and
 *	  the Gauss hypergeometric function 2F1 in the two forms the models
 *	  need, accurate over their whole domain.
 *
 * Pareto/NBD needs Phi(p, q, z) = 2F1(p, 1; p + q; z) for p, q > 0 and
 * 0 <= z < 1 (clv_model.c explains how its likelihood reduces to it).  Its
 * series, sum of (p)_n / (p + q)_n z^n, has positive terms whose ratio is
 * below z, so it is summed directly (with the derivatives in p, q and z the
 * fit needs) while z <= 0.98.  Nearer z = 1 the series crawls, and the
 * usual way out, the connection formula in 1 - z, divides by zero when q
 * is an integer and loses digits near one; so there Phi is computed from
 * Euler's integral instead, by adaptive Gauss-Kronrod quadrature after a
 * change of variable that puts the near-singularity at z -> 1 on a
 * logarithmic scale.  The result is continuous in every parameter,
 * including across alpha = beta of the model (z = 0 there) and near
 * integer q.  Checked against mpmath at 50 digits (bench/clv-reference):
 * log Phi within 1e-13, its derivatives within 1e-10.
 *
 * BG/NBD needs the mean of (1 - (1 + P c)^-k) / P over P ~ Beta(a, b): the
 * expected purchases in a period of length c (in units of alpha + T) of a
 * customer alive now, a 2F1 in disguise.  The textbook closed form divides
 * by a - 1 and, for a + b < 1, runs into the poles of 2F1; here it is
 * rewritten without the division and summed while that is accurate, and
 * otherwise integrated over the Beta density.
 *
 * Nothing here allocates or reads SQL values.  A result that could not be
 * computed to about 1e-12 relative error is NaN, never a wrong number; the
 * callers turn it into an error (or, in a fit, an infeasible point).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "clv_special.h"

/* digamma: recurrence up to this argument, then the asymptotic series */
#define DIGAMMA_ASYMPTOTIC_MIN	6.0

/*
 * Phi: the series is used up to this z, where it needs about 3,000 terms
 * (20 us, against 75 us for the quadrature); past PHI_MAX_TERMS it gives
 * way to the quadrature
 */
#define PHI_SERIES_MAX_Z		0.98
#define PHI_MAX_TERMS			4000

/*
 * with q this large the terms fall as n^-q, so the series is tried first
 * at any z: its peak in the quadrature would be narrow
 */
#define PHI_SERIES_MIN_Q		8.0

/* the Beta mixture's series: same bounds */
#define MIXTURE_SERIES_MAX_Z	0.9
#define MIXTURE_MAX_TERMS		4000

/*
 * The mixture's series subtracts two positive parts; past this loss of
 * digits (1e4: four digits of sixteen) the integral is used instead.
 */
#define MIXTURE_MAX_CANCELLATION	1e4

/* series stop when the remaining terms are below this, relative */
#define SERIES_EPS				(DBL_EPSILON / 4)

/*
 * adaptive quadrature: relative tolerance of a value, of a derivative
 * integral (against the value's scale: it is only divided by it), and at
 * most this many panels
 */
#define QUAD_TOL				1e-13
#define QUAD_TOL_DERIV			1e-10
#define QUAD_MAX_PANELS			400
#define QUAD_MAX_DIM			4

/* exponential substitutions are integrated up to v = 40: e^-40 = 4e-18 */
#define QUAD_V_MAX				40.0

/* Gauss-Kronrod 7-15 rule (QUADPACK's qk15): Kronrod nodes and weights */
static const double gk15_x[8] = {
	0.991455371120812639206854697526329,
	0.949107912342758524526189684047851,
	0.864864423359769072789712788640926,
	0.741531185599394439863864773280788,
	0.586087235467691130294144845693013,
	0.405845151377397166906606412076961,
	0.207784955007898467600689403773245,
	0.000000000000000000000000000000000
};
static const double gk15_wk[8] = {
	0.022935322010529224963732008058970,
	0.063092092629978553290700663189204,
	0.104790010322250183839876322541518,
	0.140653259715525918745189590510238,
	0.169004726639267902826583426598550,
	0.190350578064785409913256402421014,
	0.204432940075298892414161999234649,
	0.209482141084727828012999174891714
};

/* the Gauss 7-point weights, at gk15_x[1], [3], [5] and [7] */
static const double gk15_wg[4] = {
	0.129484966168869693270611432679082,
	0.279705391489276667901467771423780,
	0.381830050505118944950369775488975,
	0.417959183673469387755102040816327
};

/* a vector integrand: fills out[0..dim-1] at x */
typedef void (*QuadFunction) (double x, double *out, void *arg);

typedef struct QuadPanel
{
	double		lo;
	double		hi;
	double		value[QUAD_MAX_DIM];
	double		error[QUAD_MAX_DIM];
} QuadPanel;

/*
 * digamma(x) for x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to
 * x >= 6, then the asymptotic series (error below 1e-16 there).
 */
float8
rfm_digamma(float8 x)
{
	double		result = 0;
	double		x2;

	if (!(x > 0) || isinf(x))
		return NAN;
	while (x < DIGAMMA_ASYMPTOTIC_MIN)
	{
		result -= 1 / x;
		x += 1;
	}
	x2 = 1 / (x * x);
	/* Bernoulli numbers B2k / 2k */
	result += log(x) - 0.5 / x -
		x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 * (1.0 / 252 - x2 * (1.0 / 240 -
																   x2 * (1.0 / 132 - x2 * (691.0 / 32760 - x2 / 12))))));
	return result;
}

/*
 * lgamma(b + d) - lgamma(b) and digamma(b + d) - digamma(b), for b > 0 and
 * d >= 0, without the cancellation of the plain difference when b is
 * large (a fit's parameters may run to 1e13 on their way to a boundary):
 * a sum of logs for small whole d, Stirling's series written in log1p
 * otherwise when b >= RATIO_STIRLING_MIN, the plain difference below.
 */
#define RATIO_SUM_MAX			16
#define RATIO_STIRLING_MIN		10.0

/* lgamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2), for z >= 10 */
static double
stirling_rest(double z)
{
	double		z2 = 1 / (z * z);

	return (1.0 / 12 - z2 * (1.0 / 360 - z2 * (1.0 / 1260 - z2 / 1680))) / z;
}

/* digamma(z) - (log z - 1/(2z)), for z >= 10 */
static double
digamma_rest(double z)
{
	double		z2 = 1 / (z * z);

	return -z2 * (1.0 / 12 - z2 * (1.0 / 120 - z2 * (1.0 / 252 - z2 / 240)));
}

float8
rfm_lgamma_ratio(float8 b, float8 d)
{
	if (d == 0)
		return 0;
	if (d <= RATIO_SUM_MAX && d == floor(d))
	{
		double		sum = 0;

		for (int j = 0; j < (int) d; j++)
			sum += log(b + j);
		return sum;
	}
	if (b < RATIO_STIRLING_MIN)
		return lgamma(b + d) - lgamma(b);
	return (b - 0.5) * log1p(d / b) + d * (log(b + d) - 1) +
		(stirling_rest(b + d) - stirling_rest(b));
}

float8
rfm_digamma_diff(float8 b, float8 d)
{
	if (d == 0)
		return 0;
	if (d <= RATIO_SUM_MAX && d == floor(d))
	{
		double		sum = 0;

		for (int j = 0; j < (int) d; j++)
			sum += 1 / (b + j);
		return sum;
	}
	if (b < RATIO_STIRLING_MIN)
		return rfm_digamma(b + d) - rfm_digamma(b);
	return log1p(d / b) + d / (2 * b * (b + d)) +
		(digamma_rest(b + d) - digamma_rest(b));
}

/* expm1(u) / u, 1 at u = 0: the ratio the limits s -> 1 and a -> 1 need */
float8
rfm_expm1_ratio(float8 u)
{
	if (u == 0)
		return 1;
	return expm1(u) / u;
}

/*
 * One Gauss-Kronrod 15-point panel of a vector integrand, with QUADPACK's
 * error estimate: |Kronrod - Gauss| scaled by the integrand's spread about
 * its mean and raised to the power 1.5, which follows the true error of
 * smooth integrands far more closely than the raw difference.
 */
static void
gk15(QuadFunction f, void *arg, int dim, QuadPanel *panel)
{
	double		center = (panel->lo + panel->hi) / 2;
	double		half = (panel->hi - panel->lo) / 2;
	double		fv[15][QUAD_MAX_DIM];

	f(center, fv[14], arg);
	for (int j = 0; j < 7; j++)
	{
		f(center - half * gk15_x[j], fv[2 * j], arg);
		f(center + half * gk15_x[j], fv[2 * j + 1], arg);
	}
	for (int i = 0; i < dim; i++)
	{
		double		kronrod = gk15_wk[7] * fv[14][i];
		double		gauss = gk15_wg[3] * fv[14][i];
		double		mean;
		double		spread;
		double		error;

		for (int j = 0; j < 7; j++)
		{
			kronrod += gk15_wk[j] * (fv[2 * j][i] + fv[2 * j + 1][i]);
			if (j % 2 == 1)
				gauss += gk15_wg[j / 2] * (fv[2 * j][i] + fv[2 * j + 1][i]);
		}
		mean = kronrod / 2;
		spread = gk15_wk[7] * fabs(fv[14][i] - mean);
		for (int j = 0; j < 7; j++)
			spread += gk15_wk[j] * (fabs(fv[2 * j][i] - mean) +
									fabs(fv[2 * j + 1][i] - mean));
		error = fabs((kronrod - gauss) * half);
		spread *= fabs(half);
		if (spread != 0 && error != 0)
			error = spread * Min(1, pow(200 * error / spread, 1.5));
		panel->value[i] = kronrod * half;
		panel->error[i] = error;
	}
}

/*
 * Adaptive quadrature of a vector integrand over [lo, hi]: bisect the
 * panel that contributes most (relative) error until the first component's
 * error estimate is below QUAD_TOL of its value and the others' below
 * QUAD_TOL_DERIV of theirs or of the first's, whichever is larger (they are
 * the integrals of derivatives, which are divided by the first).  Adds into
 * result; false when the panels ran out (the caller returns NaN).
 */
static bool
quad_adaptive(QuadFunction f, void *arg, int dim, double lo, double hi,
			  double *result)
{
	QuadPanel	panels[QUAD_MAX_PANELS];
	int			npanels = 1;

	Assert(dim <= QUAD_MAX_DIM);
	if (!(hi > lo))
		return true;
	panels[0].lo = lo;
	panels[0].hi = hi;
	gk15(f, arg, dim, &panels[0]);
	for (;;)
	{
		double		total[QUAD_MAX_DIM] = {0};
		double		error[QUAD_MAX_DIM] = {0};
		double		scale[QUAD_MAX_DIM];
		bool		done = true;
		int			worst = 0;
		double		worst_error = -1;

		for (int k = 0; k < npanels; k++)
			for (int i = 0; i < dim; i++)
			{
				total[i] += panels[k].value[i];
				error[i] += panels[k].error[i];
			}
		for (int i = 0; i < dim; i++)
		{
			if (isnan(total[i]) || isnan(error[i]))
				return false;
			/* derivatives are measured against the value's scale */
			scale[i] = i == 0 ? fabs(total[0]) :
				Max(fabs(total[i]), fabs(total[0])) * QUAD_TOL_DERIV / QUAD_TOL;
			if (error[i] > QUAD_TOL * scale[i])
				done = false;
		}
		if (done)
		{
			for (int i = 0; i < dim; i++)
				result[i] += total[i];
			return true;
		}
		if (npanels + 1 > QUAD_MAX_PANELS)
			return false;
		for (int k = 0; k < npanels; k++)
		{
			double		e = 0;

			for (int i = 0; i < dim; i++)
				if (scale[i] != 0)
					e += panels[k].error[i] / scale[i];
			if (e > worst_error)
			{
				worst_error = e;
				worst = k;
			}
		}
		/* bisect the worst panel: it keeps the lower half */
		panels[npanels].lo = (panels[worst].lo + panels[worst].hi) / 2;
		panels[npanels].hi = panels[worst].hi;
		panels[worst].hi = panels[npanels].lo;
		gk15(f, arg, dim, &panels[worst]);
		gk15(f, arg, dim, &panels[npanels]);
		npanels++;
	}
}

/*
 * Phi's series, with the derivatives of its log in p, q and z when grad is
 * not NULL.  Terms c_n z^n with c_n = (p)_n / (p + q)_n are positive and
 * their ratio, below z, grows with n, so the rest of the sum after a term
 * t is below t z / (1 - z); the derivative sums carry the factors n and
 * log-derivatives of c_n, which grow no faster than n.  False when it
 * needs more than PHI_MAX_TERMS terms.
 */
static bool
phi_series(double p, double q, double z, double eps, double *log_phi,
		   double *grad)
{
	double		term = 1;
	double		sum = 0;
	double		sum_p = 0;
	double		sum_q = 0;
	double		sum_z = 0;
	double		dp = 0;			/* d log c_n / dp */
	double		dq = 0;			/* d log c_n / dq */
	int			n;

	for (n = 0; n < PHI_MAX_TERMS; n++)
	{
		double		inv_pqn = 1 / (p + q + n);

		sum += term;
		if (grad)
		{
			sum_p += term * dp;
			sum_q += term * dq;
			sum_z += term * n;
		}
		if (term * (n + 2) * (1 + fabs(dp) + fabs(dq)) <= SERIES_EPS * eps * eps * sum)
			break;
		dp += 1 / (p + n) - inv_pqn;
		dq -= inv_pqn;
		term *= (p + n) * inv_pqn * z;
	}
	if (n == PHI_MAX_TERMS)
		return false;
	*log_phi = log(sum);
	if (grad)
	{
		grad[RFM_PHI_DP] = sum_p / sum;
		grad[RFM_PHI_DQ] = sum_q / sum;
		/* z = 0 leaves only the first term's derivative, p / (p + q) */
		grad[RFM_PHI_DZ] = z > 0 ? sum_z / (z * sum) : p / (p + q);
	}
	return true;
}

/*
 * Phi by quadrature, for z near 1.  With w = 1 - v in Euler's integral
 *
 *	 Phi = 1 / B(p, q) * int_0^1 v^(p-1) (1-v)^(q-1) / (1 - z v) dv
 *
 * and 1 - z v = eps e^y (eps = 1 - z), the pole at v = 1 / z, eps away
 * from the end of the range, spreads over y in [0, Y], Y = -log eps:
 *
 *	 Phi = 1 / (z B(p, q)) * int_0^Y (1-w)^(p-1) w^(q-1) dy,
 *	 w = eps expm1(y) / z,  1 - w = -expm1(-(Y - y)) / z.
 *
 * The integrand is y^(q-1) H(y) near 0 and (Y-y)^(p-1) H(y) near Y, H
 * smooth, times log y or log(Y-y) in the derivatives.  So the range is cut
 * in three: [0, y1] in the variable v with y = y1 e^(-v/q), [y1, Y - d1] in
 * y itself, and [Y - d1, Y] with Y - y = d1 e^(-v/p).  In v the power is a
 * factor e^-v and the log is linear; y1 and d1 are small enough for H to
 * change little on their pieces, so the part past v = QUAD_V_MAX is below
 * e^-QUAD_V_MAX of the piece.  The derivatives of log Phi are ratios of
 * integrals of the same integrand times log(1-w) (p), log w (q) and (1-w)
 * e^-y / eps (z), plus the derivatives of log B(p, q).  Values are
 * multiples of eps^(q-1) e^shift, so nothing overflows.
 */
typedef enum PhiPiece
{
	PIECE_LOWER,
	PIECE_MIDDLE,
	PIECE_UPPER
} PhiPiece;

typedef struct PhiIntegrand
{
	double		p;
	double		q;
	double		log_p;
	double		log_q;
	double		z;
	double		eps;
	double		log_eps;
	double		log_z;
	double		Y;
	double		log_y1;
	double		log_d1;
	double		shift;
	PhiPiece	piece;
	int			dim;
} PhiIntegrand;

static void
phi_integrand(double v, double *out, void *arg)
{
	PhiIntegrand *pi = (PhiIntegrand *) arg;
	double		y;
	double		d;				/* Y - y */
	double		log_w;
	double		log_1mw;
	double		log_f;			/* of the integrand times dy/dv */

	/*
	 * w = eps y expm1r(y) / z and 1 - w = d expm1r(-d) / z: the log of the
	 * one below 1/2 is computed directly (from the log of y or d on the end
	 * pieces, where y or d itself may underflow), that of the other through
	 * log1p, so neither loses digits to cancellation.
	 */
	switch (pi->piece)
	{
		case PIECE_LOWER:
			{
				double		log_y = pi->log_y1 - v / pi->q;

				y = exp(log_y);
				d = pi->Y - y;
				log_w = pi->log_eps + log_y + log(rfm_expm1_ratio(y)) - pi->log_z;
				log_1mw = log1p(-exp(log_w));
				/* |dy/dv| = y / q */
				log_f = log_y - pi->log_q;
				break;
			}
		case PIECE_UPPER:
			{
				double		log_d = pi->log_d1 - v / pi->p;

				d = exp(log_d);
				y = pi->Y - d;
				log_1mw = log_d + log(rfm_expm1_ratio(-d)) - pi->log_z;
				log_w = log1p(-exp(log_1mw));
				/* |dy/dv| = d / p */
				log_f = log_d - pi->log_p;
				break;
			}
		default:
			{
				double		w;

				y = v;
				d = pi->Y - y;
				w = pi->eps * expm1(y) / pi->z;
				if (w < 0.5)
				{
					log_w = log(w);
					log_1mw = log1p(-w);
				}
				else
				{
					double		omw = -expm1(-d) / pi->z;

					log_1mw = log(omw);
					log_w = log1p(-omw);
				}
				log_f = 0;
				break;
			}
	}
	log_f += (pi->p - 1) * log_1mw + (pi->q - 1) * log_w;

	/* a common factor eps^(q-1) e^shift is left out of every value */
	out[0] = exp(log_f - (pi->q - 1) * pi->log_eps - pi->shift);
	if (pi->dim > 1)
	{
		out[1] = out[0] * log_1mw;
		out[2] = out[0] * log_w;
		/* (1 - w) e^-y / eps = expm1(Y - y) / z */
		out[3] = out[0] * expm1(d) / pi->z;
	}
}

static bool
phi_quadrature(double p, double q, double z, double eps, double *log_phi,
			   double *grad)
{
	PhiIntegrand pi;
	double		total[QUAD_MAX_DIM] = {0};
	/* log B(p, q), without the cancellation of lgamma(p) - lgamma(p + q) */
	double		log_beta = lgamma(q) - rfm_lgamma_ratio(p, q);
	double		y1;
	double		d1;
	double		peak;

	pi.p = p;
	pi.q = q;
	pi.log_p = log(p);
	pi.log_q = log(q);
	pi.z = z;
	pi.eps = eps;
	pi.log_eps = log(eps);
	pi.log_z = log(z);
	pi.Y = -pi.log_eps;
	/*
	 * Scale by the integrand's largest value: w^(q-1) (1-w)^(p-1) /
	 * eps^(q-1) peaks at w = (q-1) / (p+q-2) when p, q > 1, grows toward
	 * w = 1 (e^((q-1) Y)) when only q > 1, and is not large otherwise.
	 */
	if (p > 1 && q > 1)
	{
		double		w_peak = (q - 1) / (p + q - 2);

		pi.shift = (p - 1) * log1p(-w_peak) + (q - 1) * (log(w_peak) - pi.log_eps);
	}
	else
		pi.shift = q > 1 ? (q - 1) * pi.Y : 0;
	pi.dim = grad ? 4 : 1;

	/*
	 * On [0, y1], H changes through expm1r(y)^(q-1) (scale 1 / |q-1|) and
	 * (1-w)^(p-1) (scale 1 / (p eps)); on [Y - d1, Y], through
	 * expm1r(-d)^(p-1) and w^(q-1).
	 */
	y1 = Min(pi.Y / 3, 1 / (1 + fabs(q - 1) + p * eps));
	d1 = Min(pi.Y / 3, 1 / (1 + fabs(p - 1) + fabs(q - 1)));
	pi.log_y1 = log(y1);
	pi.log_d1 = log(d1);

	pi.piece = PIECE_LOWER;
	if (!quad_adaptive(phi_integrand, &pi, pi.dim, 0, QUAD_V_MAX, total))
		return false;
	/*
	 * On the middle piece w^(q-1) (1-w)^(p-1) peaks at w = (q-1) / (p+q-2)
	 * when p, q > 1, as narrowly as 1 / sqrt(q) in y: cut there, so that
	 * no panel can step over the peak.
	 */
	pi.piece = PIECE_MIDDLE;
	peak = (p > 1 && q > 1) ? log1p(z * ((q - 1) / (p + q - 2)) / eps) : 0;
	if (peak > y1 && peak < pi.Y - d1)
	{
		if (!quad_adaptive(phi_integrand, &pi, pi.dim, y1, peak, total) ||
			!quad_adaptive(phi_integrand, &pi, pi.dim, peak, pi.Y - d1, total))
			return false;
	}
	else if (!quad_adaptive(phi_integrand, &pi, pi.dim, y1, pi.Y - d1, total))
		return false;
	pi.piece = PIECE_UPPER;
	if (!quad_adaptive(phi_integrand, &pi, pi.dim, 0, QUAD_V_MAX, total))
		return false;
	if (!(total[0] > 0) || isinf(total[0]))
		return false;

	*log_phi = log(total[0]) + (q - 1) * pi.log_eps + pi.shift - pi.log_z -
		log_beta;
	if (grad)
	{
		grad[RFM_PHI_DP] = rfm_digamma_diff(p, q) + total[1] / total[0];
		grad[RFM_PHI_DQ] = rfm_digamma_diff(q, p) + total[2] / total[0];
		grad[RFM_PHI_DZ] = total[3] / total[0];
	}
	return isfinite(*log_phi);
}

/*
 * log Phi(p, q, z) = log 2F1(p, 1; p + q; z), for p > 0, q > 0 and
 * 0 <= z < 1, with eps = 1 - z computed by the caller without cancellation
 * (z near 1 is where it matters).  When grad is not NULL, fills the
 * derivatives of log Phi in p, q and z (RFM_PHI_DP, _DQ, _DZ).  NaN when
 * the arguments are out of range or the value could not be computed.
 */
float8
rfm_log_hyp2f1_phi(float8 p, float8 q, float8 z, float8 eps, float8 *grad)
{
	double		log_phi;

	if (!(p > 0) || !(q > 0) || !(z >= 0) || !(eps > 0) || isinf(p) || isinf(q))
		return NAN;
	if ((z <= PHI_SERIES_MAX_Z || q >= PHI_SERIES_MIN_Q) &&
		phi_series(p, q, z, eps, &log_phi, grad))
		return log_phi;
	if (phi_quadrature(p, q, z, eps, &log_phi, grad))
		return log_phi;
	return NAN;
}

/*
 * The Beta mixture by quadrature:
 *
 *	 1 / B(a, b) * int_0^1 P^(a-1) (1-P)^(b-1) g(P) dP,
 *	 g(P) = -expm1(-k log1p(c P)) / P,
 *
 * in the log-odds l = log(P / (1-P)), where the Beta density becomes
 * P^a (1-P)^b dl: smooth and log-concave for every a, b > 0, with its mode
 * at l* = log(a / b) and a width of sigma = sqrt(1/a + 1/b).  Each side of
 * the mode is integrated in t = |l - l*| / sigma, so a density squeezed
 * into a spike by large a and b (a model near a limit) is as wide as any
 * other, out to where the density has fallen by e^-MIXTURE_TAIL (times the
 * largest ratio of g, k c).  g is smooth and bounded (k c at P = 0).
 */
#define MIXTURE_TAIL			60.0
#define MIXTURE_MAX_WIDTHS		1e7

/* where log(1 + A expm1(x)) is computed as x + log(...) */
#define MIXTURE_EXPM1_MAX		30.0

/* (1 - (1 + u)^-k) / u = k (1 - (k + 1) u / 2 + ...): exact below e^-40 / k */
#define MIXTURE_LOG_U_MIN		(-40.0)

typedef struct MixtureIntegrand
{
	double		k;
	double		a;
	double		b;
	double		c;
	double		log_c;
	double		mode;			/* l* */
	double		sigma;
	double		peak;			/* P* = a / (a + b) */
	double		side;			/* -1 or +1 */
} MixtureIntegrand;

/* log(1 + e^u), without overflow */
static double
softplus(double u)
{
	return u > 0 ? u + log1p(exp(-u)) : log1p(exp(u));
}

/*
 * log(1 + A expm1(x)) for 0 < A < 1: as written while that is accurate to
 * its own size, and as x + log(A + (1 - A) e^-x) where expm1(x) would
 * overflow (beyond x = 30 the two agree to double precision)
 */
static double
log1p_scaled_expm1(double A, double x)
{
	if (x <= MIXTURE_EXPM1_MAX)
		return log1p(A * expm1(x));
	return x + log(A + (1 - A) * exp(-x));
}

/*
 * log of the density P^a (1-P)^b dl at l = l* + delta, relative to its
 * peak: -a log(1 + (1-P*) expm1(-delta)) - b log(1 + P* expm1(delta)),
 * each term accurate to its own size, however large a and b
 */
static double
mixture_log_density(const MixtureIntegrand *mi, double delta)
{
	return -mi->a * log1p_scaled_expm1(1 - mi->peak, -delta) -
		mi->b * log1p_scaled_expm1(mi->peak, delta);
}

static void
mixture_integrand(double t, double *out, void *arg)
{
	MixtureIntegrand *mi = (MixtureIntegrand *) arg;
	double		delta = mi->side * mi->sigma * t;
	/* log(c P), from the log-odds: P itself may be far below DBL_MIN */
	double		log_u = mi->log_c - softplus(-(mi->mode + delta));
	double		g;

	/* g = c (1 - (1 + u)^-k) / u, which is k c to double precision below */
	if (log_u < MIXTURE_LOG_U_MIN - log1p(mi->k))
		g = mi->k * mi->c;
	else
	{
		double		u = exp(log_u);

		g = mi->c * -expm1(-mi->k * log1p(u)) / u;
	}
	out[0] = exp(mixture_log_density(mi, delta)) * g * mi->sigma;
}

/*
 * log(P*^a (1-P*)^b / B(a, b)), the density's peak in l over the Beta
 * function: for large a and b both terms are huge and nearly equal, so
 * their difference comes from Stirling's series, where it is
 * (1/2) log(a b / (2 pi (a + b))) and the series' remainders
 */
static double
mixture_log_norm(double a, double b, double log_peak)
{
	double		lo = Min(a, b);
	double		hi = Max(a, b);

	if (lo >= RATIO_STIRLING_MIN)
		return 0.5 * log(a * b / (2 * M_PI * (a + b))) -
			stirling_rest(a) - stirling_rest(b) + stirling_rest(a + b);
	/* B(a, b) = Gamma(lo) / (Gamma(hi + lo) / Gamma(hi)) */
	return log_peak - (lgamma(lo) - rfm_lgamma_ratio(hi, lo));
}

static double
mixture_quadrature(double k, double a, double b, double c)
{
	MixtureIntegrand mi;
	double		total = 0;
	double		floor_density = -(MIXTURE_TAIL + log1p(k * c));

	mi.k = k;
	mi.a = a;
	mi.b = b;
	mi.c = c;
	mi.log_c = log(c);
	mi.mode = log(a) - log(b);
	mi.sigma = sqrt(1 / a + 1 / b);
	mi.peak = a / (a + b);
	for (int side = -1; side <= 1; side += 2)
	{
		double		widths = 4;

		mi.side = side;
		/* out to where the density no longer counts */
		while (mixture_log_density(&mi, side * mi.sigma * widths) > floor_density)
		{
			widths *= 2;
			if (widths > MIXTURE_MAX_WIDTHS)
				return NAN;
		}
		if (!quad_adaptive(mixture_integrand, &mi, 1, 0, widths, &total))
			return NAN;
	}
	/* the peak's log: a log P* + b log(1 - P*) */
	return total * exp(mixture_log_norm(a, b, -a * softplus(-mi.mode) -
										b * softplus(mi.mode)));
}

/*
 * The Beta mixture by its series, for C = a + b - 1 > 0 and z = c / (1 + c):
 * the textbook form C / (a - 1) [1 - (1 - z)^k 2F1(k, b; C; z)], after
 * Euler's transformation, is free of the division by a - 1:
 *
 *	 C [A - (1 - z)^(a-1) S],
 *	 A = (1 - (1 - z)^(a-1)) / (a - 1) = L expm1r(-(a-1) L), L = log1p(c),
 *	 S = sum_{n >= 1} (C - k)_n (a)_(n-1) / ((C)_n n!) z^n.
 *
 * NaN when the series is slow or the subtraction would lose more than
 * MIXTURE_MAX_CANCELLATION: the caller then integrates.
 */
static double
mixture_series(double k, double a, double b, double c)
{
	double		C = a + b - 1;
	double		z = c / (1 + c);
	double		L = log1p(c);
	double		A = L * rfm_expm1_ratio(-(a - 1) * L);
	double		scale = exp(-(a - 1) * L);	/* (1 - z)^(a-1) */
	double		term = (C - k) / C * z;
	double		sum = 0;
	double		bound = 0;		/* sum of |terms|, for the loss of digits */
	double		diff;
	int			n;

	if (!(C > 0) || z > MIXTURE_SERIES_MAX_Z)
		return NAN;
	for (n = 1; n < MIXTURE_MAX_TERMS; n++)
	{
		double		ratio = (C - k + n) * (a + n - 1) / ((C + n) * (n + 1)) * z;
		double		rho = Max(fabs(ratio), z);

		sum += term;
		bound += fabs(term);

		/*
		 * The ratio of terms tends to z, from above or below as 1 + (a - k -
		 * 2) / n does: once it is below 1, the rest is below term rho / (1
		 * - rho), rho the larger of the ratio now and z.
		 */
		if (rho < 1 &&
			fabs(term) * rho / (1 - rho) <= SERIES_EPS * (A / scale + bound))
			break;
		term *= ratio;
	}
	if (n == MIXTURE_MAX_TERMS)
		return NAN;
	diff = A - scale * sum;
	if (!(diff > 0) || (A + scale * bound) > MIXTURE_MAX_CANCELLATION * diff)
		return NAN;
	return C * diff;
}

/*
 * The mean of (1 - (1 + P c)^-k) / P over P ~ Beta(a, b), for k, a, b > 0
 * and c >= 0: under BG/NBD, the expected purchases over the next c (alpha
 * + T) units of time of a customer alive now, with k = r + x and b the
 * posterior b + x.  NaN when out of range or not computable.
 */
float8
rfm_beta_mixture(float8 k, float8 a, float8 b, float8 c)
{
	double		result;

	if (!(k > 0) || !(a > 0) || !(b > 0) || !(c >= 0) ||
		isinf(k) || isinf(a) || isinf(b) || isinf(c))
		return NAN;
	if (c == 0)
		return 0;
	result = mixture_series(k, a, b, c);
	if (isnan(result))
		result = mixture_quadrature(k, a, b, c);
	return result;
}
