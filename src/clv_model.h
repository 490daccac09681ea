/*-------------------------------------------------------------------------
 *
 * clv_model.h
 *	  The mathematics of one customer under the buy-till-you-die models
 *	  (BG/NBD, Pareto/NBD) and the Gamma-Gamma spend model: P(alive),
 *	  expected purchases, expected spend and discounted purchases.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLV_MODEL_H
#define RFM_CLV_MODEL_H

/* the models */
typedef enum RfmClvKind
{
	RFM_CLV_BGNBD,
	RFM_CLV_PNBD,
	RFM_CLV_GG
} RfmClvKind;

/* parameters of the models, all positive */
typedef struct RfmBgnbd
{
	float8		r;
	float8		alpha;
	float8		a;
	float8		b;
} RfmBgnbd;

typedef struct RfmPnbd
{
	float8		r;
	float8		alpha;
	float8		s;
	float8		beta;
} RfmPnbd;

typedef struct RfmGg
{
	float8		p;
	float8		q;
	float8		v;
} RfmGg;

/* derivatives of rfm_pnbd_log_tail, in this order */
#define RFM_TAIL_DK		0
#define RFM_TAIL_DALPHA 1
#define RFM_TAIL_DS		2
#define RFM_TAIL_DBETA	3
#define RFM_TAIL_NGRAD	4

extern float8 rfm_pnbd_log_tail(float8 k, float8 s, float8 alpha, float8 beta,
								float8 t, float8 *grad);

/* a transaction model: BG/NBD or Pareto/NBD, as kind says */
typedef struct RfmTransactionModel
{
	RfmClvKind	kind;
	RfmBgnbd	bgnbd;
	RfmPnbd		pnbd;
} RfmTransactionModel;

extern float8 rfm_tm_p_alive(const RfmTransactionModel *m, int32 x,
							 float8 t_x, float8 t_cal);
extern float8 rfm_tm_expected(const RfmTransactionModel *m, float8 t,
							  int32 x, float8 t_x, float8 t_cal);
extern float8 rfm_tm_expected_new(const RfmTransactionModel *m, float8 t);
extern float8 rfm_tm_discounted(const RfmTransactionModel *m, int32 x,
								float8 t_x, float8 t_cal, float8 horizon,
								float8 discount_rate);

extern float8 rfm_gg_expected_spend(const RfmGg *m, int32 x,
									float8 mean_spend, bool has_spend);

#endif							/* RFM_CLV_MODEL_H */
