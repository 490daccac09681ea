/*-------------------------------------------------------------------------
 *
 * decimal.h
 *	  Exact decimal arithmetic for the sums of the metrics state: numeric
 *	  values read into scaled 128-bit integers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_DECIMAL_H
#define RFM_DECIMAL_H

#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "rfm_segment needs a compiler with a 128-bit integer type"
#endif

/*
 * The fast part of an exact decimal sum: value = small / 10^scale.  What
 * does not fit in 128 bits is kept by the owner of the sum as a Numeric
 * (state.c keeps it in the tail of the state).
 */
typedef struct RfmDecimal
{
	int128		small;			/* scaled integer part of the sum */
	int32		scale;			/* decimal scale of "small" */
	int32		big_off;		/* the owner's offset of an overflow Numeric,
								 * or 0; decimal.c never reads it */
} RfmDecimal;

/*
 * A decoded numeric input: the amount or weight of one event.  Built by
 * rfm_term_from_numeric or rfm_term_from_float8 and passed whole to
 * rfm_state_add_event; a zeroed term is an absent (NULL) one.
 */
typedef struct RfmTerm
{
	bool		present;		/* false: NULL, adds nothing */
	bool		fits;			/* mantissa/scale hold the value exactly */
	int128		mantissa;
	int32		scale;
	Numeric		value;			/* the numeric itself; needed when !fits */
} RfmTerm;

/* the weight of an event without a weight column: 1 */
extern const RfmTerm rfm_term_one;

extern bool rfm_numeric_decode(const struct varlena *num, int128 *mantissa,
							   int32 *scale);
extern void rfm_check_finite(Numeric num, const char *argname,
							 const char *hint);
extern void rfm_term_from_numeric(struct varlena *raw, const char *argname,
								  const char *hint, RfmTerm *term);
extern void rfm_term_from_float8(float8 value, const char *argname,
								 const char *hint, RfmTerm *term);

extern bool rfm_term_is_negative(const RfmTerm *term);

extern bool rfm_decimal_add(RfmDecimal *sum, int128 mantissa, int32 scale);
extern bool rfm_decimal_merge(RfmDecimal *sum, const RfmDecimal *other);
extern void rfm_decimal_reset(RfmDecimal *sum);
extern bool rfm_decimal_set(RfmDecimal *sum, Numeric value);
extern Numeric rfm_int128_to_numeric(int128 mantissa, int32 scale);
extern Numeric rfm_decimal_numeric(const RfmDecimal *sum);
extern Numeric rfm_decimal_div_count(const RfmDecimal *sum, int64 count);
extern float8 rfm_decimal_float8(const RfmDecimal *sum);

#endif							/* RFM_DECIMAL_H */
