/*-------------------------------------------------------------------------
 *
 * clv_special.h
 *	  Special functions of the customer-lifetime-value models: digamma and
 *	  the Gauss hypergeometric function 2F1 in the two forms the models
 *	  need, accurate over their whole domain.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLV_SPECIAL_H
#define RFM_CLV_SPECIAL_H

/* derivatives of rfm_log_hyp2f1_phi, in this order */
#define RFM_PHI_DP		0
#define RFM_PHI_DQ		1
#define RFM_PHI_DZ		2
#define RFM_PHI_NGRAD	3

extern float8 rfm_digamma(float8 x);
extern float8 rfm_lgamma_ratio(float8 b, float8 d);
extern float8 rfm_digamma_diff(float8 b, float8 d);
extern float8 rfm_expm1_ratio(float8 u);
extern float8 rfm_log_hyp2f1_phi(float8 p, float8 q, float8 z, float8 eps,
								 float8 *grad);
extern float8 rfm_beta_mixture(float8 k, float8 a, float8 b, float8 c);

#endif							/* RFM_CLV_SPECIAL_H */
