/*-------------------------------------------------------------------------
 *
 * decimal.c
 *	  Exact decimal sums for the metrics state: numeric values read straight
 *	  from their stored form into scaled 128-bit integers, and the terms
 *	  (amounts and weights of events) that are added to them.
 *
 * Calling numeric_add once per row would allocate a new Numeric for every
 * event and dominate the aggregate's cost.  Amounts and weights almost always
 * have a handful of digits, so they are decoded into (mantissa, scale) pairs
 * and summed as int128.  Whatever does not fit is reported to the caller,
 * which falls back to numeric arithmetic; no digit is ever rounded away.
 *
 * The stored numeric layout (NumericShort / NumericLong in numeric.c) is an
 * on-disk format that pg_upgrade keeps compatible, which is why it is safe to
 * read here.  The constants below mirror that format.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "decimal.h"

#include "compat.h"

#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"

/* numeric storage format, see src/backend/utils/adt/numeric.c */
#define NUM_NBASE				10000
#define NUM_DEC_DIGITS			4
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_NAN					0xC000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK			0x3FFF

/* 10^38 is the largest power of ten below 2^127 */
#define MAX_POW10				38

/* numeric.c's select_div_scale: significant digits and display scales */
#define NUM_MIN_SIG_DIGITS		16
#define NUM_MIN_DISPLAY_SCALE	0
#define NUM_MAX_DISPLAY_SCALE	1000

/*
 * The powers of ten a double holds exactly (10^22 = 5^22 * 2^22, and 5^22
 * is below 2^53), and the bound up to which every integer is a double.
 */
#define MAX_EXACT_POW10_DOUBLE	22
#define MAX_EXACT_INT_DOUBLE	(INT64CONST(1) << 53)

static int128
pow10_int128(int e)
{
	static int128 table[MAX_POW10 + 1];
	static bool initialized = false;

	Assert(e >= 0 && e <= MAX_POW10);
	if (!initialized)
	{
		table[0] = 1;
		for (int i = 1; i <= MAX_POW10; i++)
			table[i] = table[i - 1] * 10;
		initialized = true;
	}
	return table[e];
}

/* multiply by 10^e; false on overflow, and then *value is garbage */
static inline bool
scale_up(int128 *value, int e)
{
	if (*value == 0)
		return true;
	if (e > MAX_POW10)
		return false;
	return !__builtin_mul_overflow(*value, pow10_int128(e), value);
}

/*
 * Decode a numeric datum (possibly with a short varlena header, as it comes
 * from a heap tuple) into value = mantissa / 10^scale, with scale equal to
 * the value's display scale, so sums keep the display scale sum() gives.
 *
 * NaN and infinities raise an error naming the argument.  Returns false when
 * the value needs more than 38 digits; the caller then uses numeric math.
 */
bool
rfm_numeric_decode(const struct varlena *num, int128 *mantissa, int32 *scale)
{
	const char *p = VARDATA_ANY(num);
	int			len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	bool		negative;
	int			dscale;
	int			weight;
	int			hdrsz;
	int			ndigits;
	int			exponent;
	int128		m = 0;

	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		elog(ERROR, "special numeric values must be rejected by the caller");

	if (header & NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = (header & NUM_SHORT_WEIGHT_MASK);
		if (header & NUM_SHORT_WEIGHT_SIGN)
			weight |= ~NUM_SHORT_WEIGHT_MASK;
		hdrsz = sizeof(uint16);
	}
	else
	{
		int16		w;

		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		hdrsz = sizeof(uint16) + sizeof(int16);
	}

	ndigits = (len - hdrsz) / sizeof(int16);
	*scale = dscale;
	if (ndigits == 0)
	{
		*mantissa = 0;
		return true;
	}

	/* the last digit has weight (weight - ndigits + 1) in base 10000 */
	exponent = (weight - ndigits + 1) * NUM_DEC_DIGITS + dscale;

	if (ndigits <= 4 && exponent > -NUM_DEC_DIGITS)
	{
		/*
		 * The common case: at most 16 decimal digits, so 64-bit arithmetic
		 * suffices and the slow 128-bit division is avoided.
		 */
		static const int64 pow10_small[] = {1, 10, 100, 1000};
		int64		v = 0;

		for (int i = 0; i < ndigits; i++)
		{
			int16		digit;

			memcpy(&digit, p + hdrsz + i * sizeof(int16), sizeof(int16));
			v = v * NUM_NBASE + digit;
		}
		if (exponent < 0)
		{
			/* only zeros beyond the display scale are dropped here */
			v /= pow10_small[-exponent];
			exponent = 0;
		}
		m = v;
		if (exponent > 0 && !scale_up(&m, exponent))
			return false;
		*mantissa = negative ? -m : m;
		return true;
	}

	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;

		/* the datum may be unaligned when it has a short varlena header */
		memcpy(&digit, p + hdrsz + i * sizeof(int16), sizeof(int16));
		if (__builtin_mul_overflow(m, NUM_NBASE, &m) ||
			__builtin_add_overflow(m, digit, &m))
			return false;
	}

	if (exponent >= 0)
	{
		if (!scale_up(&m, exponent))
			return false;
	}
	else
	{
		if (-exponent > MAX_POW10)
			return false;
		m /= pow10_int128(-exponent);
	}

	*mantissa = negative ? -m : m;
	return true;
}

/*
 * Raise an error if a numeric argument is NaN or infinite.  The datum may
 * have a short header, so the flag bits are read from the raw bytes.
 */
void
rfm_check_finite(Numeric num, const char *argname, const char *hint)
{
	uint16		header;

	memcpy(&header, VARDATA_ANY(num), sizeof(uint16));
	if ((header & NUM_SIGN_MASK) != NUM_SPECIAL)
		return;
	if (header == NUM_NAN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NaN", argname),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be finite", argname),
			 errhint("%s", hint)));
}

/*
 * Add mantissa / 10^scale to the sum.  Returns false, leaving the value of
 * the sum unchanged, when the result does not fit in 128 bits.
 */
bool
rfm_decimal_add(RfmDecimal *sum, int128 mantissa, int32 scale)
{
	int128		result;

	if (scale > sum->scale)
	{
		int128		rescaled = sum->small;

		if (!scale_up(&rescaled, scale - sum->scale))
			return false;
		sum->small = rescaled;
		sum->scale = scale;
	}
	else if (scale < sum->scale)
	{
		if (!scale_up(&mantissa, sum->scale - scale))
			return false;
	}
	/* the builtin stores the wrapped result even when it overflows */
	if (__builtin_add_overflow(sum->small, mantissa, &result))
		return false;
	sum->small = result;
	return true;
}

/* add the fast part of another sum; false when it does not fit */
bool
rfm_decimal_merge(RfmDecimal *sum, const RfmDecimal *other)
{
	return rfm_decimal_add(sum, other->small, other->scale);
}

/* an empty sum (its owner's overflow offset is left alone) */
void
rfm_decimal_reset(RfmDecimal *sum)
{
	sum->small = 0;
	sum->scale = 0;
}

/*
 * Set the fast part of a sum to a value; false, leaving it empty, when the
 * value needs more than 38 digits.
 */
bool
rfm_decimal_set(RfmDecimal *sum, Numeric value)
{
	if (rfm_numeric_decode((struct varlena *) value, &sum->small, &sum->scale))
		return true;
	rfm_decimal_reset(sum);
	return false;
}

/* the term of an event without a weight column: every event weighs 1 */
const RfmTerm rfm_term_one = {true, true, 1, 0, NULL};

/*
 * A numeric argument as a term.  The datum may have a short varlena header
 * (straight from a heap tuple); only compressed or external values are
 * detoasted.  NaN and infinities are errors naming the argument.
 */
void
rfm_term_from_numeric(struct varlena *raw, const char *argname,
					  const char *hint, RfmTerm *term)
{
	if (VARATT_IS_EXTENDED(raw) && !VARATT_IS_SHORT(raw))
		raw = pg_detoast_datum(raw);
	rfm_check_finite((Numeric) raw, argname, hint);
	term->present = true;
	term->fits = rfm_numeric_decode(raw, &term->mantissa, &term->scale);
	term->value = (Numeric) raw;
}

/* whether a present term is below zero (a refund, where that matters) */
bool
rfm_term_is_negative(const RfmTerm *term)
{
	uint16		header;

	if (!term->present)
		return false;
	if (term->fits)
		return term->mantissa < 0;
	/* the stored form's sign bits; zero is never negative */
	memcpy(&header, VARDATA_ANY(term->value), sizeof(uint16));
	if (header & NUM_SHORT)
		return (header & NUM_SHORT_SIGN_MASK) != 0;
	return (header & NUM_SIGN_MASK) == NUM_NEG;
}

/*
 * A float8 argument as a term, taken as float8::numeric takes it (15
 * significant digits, so 0.1 is exactly 0.1): sums of such terms are exact
 * and do not depend on the order of the rows.  The numeric is allocated in
 * the current memory context when it does not fit the fast form.
 */
void
rfm_term_from_float8(float8 value, const char *argname, const char *hint,
					 RfmTerm *term)
{
	Numeric		num;

	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NaN", argname),
				 errhint("%s", hint)));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", argname),
				 errhint("%s", hint)));
	num = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
											  Float8GetDatum(value)));
	term->present = true;
	term->fits = rfm_numeric_decode((struct varlena *) num, &term->mantissa,
									&term->scale);
	term->value = term->fits ? NULL : num;
}

/*
 * Numeric from a scaled integer, built directly in the stored format in the
 * canonical form make_result() gives (no leading or trailing zero digits,
 * zero is positive with weight 0), so the result is indistinguishable from
 * one numeric_in or numeric_add would produce.  Going through text instead
 * cost a third of the final function.
 */
Numeric
rfm_int128_to_numeric(int128 mantissa, int32 scale)
{
	/* 39 decimal digits make at most 11 base-10000 digits */
	int16		groups[12];
	int			ngroups = 0;
	int			low = 0;
	bool		negative = mantissa < 0;
	uint128		u = negative ? -(uint128) mantissa : (uint128) mantissa;
	int			pad = (NUM_DEC_DIGITS - scale % NUM_DEC_DIGITS) % NUM_DEC_DIGITS;
	int			frac_groups = (scale + pad) / NUM_DEC_DIGITS;
	int			weight;
	int			ndigits;
	Numeric		result;
	int16	   *digits;

	Assert(scale >= 0 && scale <= NUM_DSCALE_MASK);
	if (u != 0)
	{
		/*
		 * Base-10000 digits, least significant first.  The lowest one holds
		 * only 4 - pad decimal digits, so that the point falls between two
		 * base-10000 digits.
		 */
		uint64		first = 1;
		uint64		v;

		for (int i = 0; i < NUM_DEC_DIGITS - pad; i++)
			first *= 10;
		/* 128-bit division is slow: leave it as soon as the value fits */
		if (u <= PG_UINT64_MAX)
		{
			v = (uint64) u;
			groups[ngroups++] = (int16) (v % first);
			v /= first;
		}
		else
		{
			groups[ngroups++] = (int16) (u % first);
			u /= first;
			while (u > PG_UINT64_MAX)
			{
				groups[ngroups++] = (int16) (u % NUM_NBASE);
				u /= NUM_NBASE;
			}
			v = (uint64) u;
		}
		for (int i = 0; i < pad; i++)
			groups[0] *= 10;
		for (; v != 0; v /= NUM_NBASE)
			groups[ngroups++] = (int16) (v % NUM_NBASE);
		while (groups[low] == 0)
			low++;
	}
	ndigits = ngroups - low;
	weight = ndigits == 0 ? 0 : ngroups - 1 - frac_groups;
	if (ndigits == 0)
		negative = false;

	if (scale <= (NUM_SHORT_DSCALE_MASK >> NUM_SHORT_DSCALE_SHIFT) &&
		weight <= NUM_SHORT_WEIGHT_MASK && weight >= -(NUM_SHORT_WEIGHT_MASK + 1))
	{
		uint16		header = NUM_SHORT |
			(negative ? NUM_SHORT_SIGN_MASK : 0) |
			(scale << NUM_SHORT_DSCALE_SHIFT) |
			(weight < 0 ? NUM_SHORT_WEIGHT_SIGN : 0) |
			(weight & NUM_SHORT_WEIGHT_MASK);
		Size		len = VARHDRSZ + sizeof(uint16) + ndigits * sizeof(int16);

		result = palloc(len);
		SET_VARSIZE(result, len);
		memcpy(VARDATA(result), &header, sizeof(uint16));
		digits = (int16 *) (VARDATA(result) + sizeof(uint16));
	}
	else
	{
		uint16		header = (negative ? NUM_NEG : 0) | (scale & NUM_DSCALE_MASK);
		int16		w = (int16) weight;
		Size		len = VARHDRSZ + sizeof(uint16) + sizeof(int16) +
			ndigits * sizeof(int16);

		result = palloc(len);
		SET_VARSIZE(result, len);
		memcpy(VARDATA(result), &header, sizeof(uint16));
		memcpy(VARDATA(result) + sizeof(uint16), &w, sizeof(int16));
		digits = (int16 *) (VARDATA(result) + sizeof(uint16) + sizeof(int16));
	}
	for (int i = 0; i < ndigits; i++)
		digits[i] = groups[ngroups - 1 - i];
	return result;
}

/* decimal digits of a positive value */
static int
decimal_digits(uint128 u)
{
	int			n = 1;

	Assert(u > 0);
	while (n <= MAX_POW10 && u >= (uint128) pow10_int128(n))
		n++;
	return n;
}

/*
 * The normalized base-10000 weight and leading base-10000 digit of
 * u / 10^scale (u > 0), as numeric.c's select_div_scale reads them.
 */
static void
leading_digit(uint128 u, int32 scale, int *weight, uint128 *first)
{
	int			e10 = decimal_digits(u) - 1 - scale;
	int			k;

	/* floor(e10 / 4), rounding toward minus infinity */
	*weight = (e10 >= 0) ? e10 / NUM_DEC_DIGITS :
		-((-e10 + NUM_DEC_DIGITS - 1) / NUM_DEC_DIGITS);
	/* k >= digits - 4, so a negative k multiplies a value below 10^3 */
	k = scale + *weight * NUM_DEC_DIGITS;
	*first = (k >= 0) ? u / (uint128) pow10_int128(k) :
		u * (uint128) pow10_int128(-k);
}

/*
 * sum / count (count > 0) as numeric_div computes it, without numeric
 * arithmetic: the result scale is select_div_scale's (16 significant
 * digits, at least the sum's scale; the count has scale 0), and the
 * quotient is rounded half away from zero at that scale, as div_var with
 * round = true does (its exact truncated digits, then round_var).  Returns
 * NULL when the scaled sum would pass 128 bits (or is the most negative
 * int128); the caller then calls numeric_div.  avg_amount costs one integer division instead of two
 * Numeric allocations and a long division.
 */
Numeric
rfm_decimal_div_count(const RfmDecimal *sum, int64 count)
{
	bool		negative = sum->small < 0;
	uint128		u = negative ? -(uint128) sum->small : (uint128) sum->small;
	uint128		n = (uint128) count;
	int			weight1 = 0;
	uint128		first1 = 0;
	int			weight2;
	uint128		first2;
	int			qweight;
	int			rscale;
	int128		num;
	uint128		q;
	uint128		r;

	Assert(count > 0);
	/* the most negative sum has no positive counterpart in int128 */
	if ((int128) u < 0)
		return NULL;
	if (u != 0)
		leading_digit(u, sum->scale, &weight1, &first1);
	leading_digit(n, 0, &weight2, &first2);

	/* select_div_scale */
	qweight = weight1 - weight2;
	if (first1 <= first2)
		qweight--;
	rscale = NUM_MIN_SIG_DIGITS - qweight * NUM_DEC_DIGITS;
	rscale = Max(rscale, sum->scale);
	rscale = Max(rscale, NUM_MIN_DISPLAY_SCALE);
	rscale = Min(rscale, NUM_MAX_DISPLAY_SCALE);

	/* |sum| * 10^(rscale - scale) / count, rounded half away from zero */
	num = (int128) u;
	if (!scale_up(&num, rscale - sum->scale))
		return NULL;
	q = (uint128) num / n;
	r = (uint128) num % n;
	if (r >= n - r)
		q++;
	return rfm_int128_to_numeric(negative ? -(int128) q : (int128) q, rscale);
}

/* the fast part of a sum as a Numeric */
Numeric
rfm_decimal_numeric(const RfmDecimal *sum)
{
	return rfm_int128_to_numeric(sum->small, sum->scale);
}

/*
 * A sum as float8, the same double numeric_float8 gives for it: that
 * function parses the numeric's text with strtod, so this formats the
 * scaled integer as the same decimal digits and parses them the same way,
 * without building a Numeric.
 */
float8
rfm_decimal_float8(const RfmDecimal *sum)
{
	static const double exact_pow10[MAX_EXACT_POW10_DOUBLE + 1] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	static const struct
	{
		uint64		pow10;
		int			digits;
	}			zeros[] = {
		{UINT64CONST(10000000000000000), 16}, {100000000, 8}, {10000, 4}, {100, 2}, {10, 1}
	};
	char		digits[48];
	char		buf[48 + 8];
	int			n = 0;
	int			pos = 0;
	bool		negative = sum->small < 0;
	uint128		u = negative ? -(uint128) sum->small : (uint128) sum->small;
	int			scale = sum->scale;

	/*
	 * Past the fast path's bounds below, the fraction's trailing zeros go
	 * first: they do not change the value strtod rounds, and amounts
	 * computed by a division carry 20 decimals (1 / 4.0 is
	 * 0.25000000000000000000), whose sums took strtod's slow path.  Sixteen
	 * zeros at a time, then eight, four, two and one: a few divisions,
	 * where the slow path takes several per digit.
	 */
	if (u > (uint128) MAX_EXACT_INT_DOUBLE || scale > MAX_EXACT_POW10_DOUBLE)
		for (int i = 0; i < (int) lengthof(zeros); i++)
			while (scale >= zeros[i].digits && u % zeros[i].pow10 == 0)
			{
				u /= zeros[i].pow10;
				scale -= zeros[i].digits;
			}

	/*
	 * Clinger's fast path, as strtod takes it: the digits and the power of
	 * ten are both exact doubles, so one IEEE division is correctly rounded,
	 * which is what strtod returns.  Amounts almost always take it.
	 */
	if (u <= (uint128) MAX_EXACT_INT_DOUBLE && scale <= MAX_EXACT_POW10_DOUBLE)
	{
		double		value = (double) (uint64) u / exact_pow10[scale];

		return negative ? -value : value;
	}

	while (u > PG_UINT64_MAX)
	{
		digits[n++] = '0' + (int) (u % 10);
		u /= 10;
	}
	for (uint64 v = (uint64) u;; v /= 10)
	{
		digits[n++] = '0' + (int) (v % 10);
		if (v < 10)
			break;
	}
	if (negative)
		buf[pos++] = '-';
	for (int i = n - 1; i >= 0; i--)
		buf[pos++] = digits[i];
	/* value = digits * 10^-scale, in strtod's exponent notation */
	snprintf(buf + pos, sizeof(buf) - pos, "e-%d", scale);
	return rfm_float8in_internal(buf, NULL, "double precision", buf);
}
