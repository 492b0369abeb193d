/*
 * kernels.c: forward-pass building blocks (see kernels.h).
 *
 * Design notes:
 * - The matrix products go to OpenBLAS (cblas_sgemm with CblasTrans on the
 *   [out, in] weights, read straight from the memory-mapped file).
 *   OpenBLAS is kept single-threaded (embed_kernels_init sets its
 *   process-wide thread count to 1): a multi-threaded sgemm splits the work
 *   by its thread count and the last bits of the result change with it.
 *   Parallelism is the caller's (bert.c runs independent single-threaded
 *   calls on its own threads).
 * - After the GEMMs, most of the time goes to the transcendental functions
 *   of GELU (one per FFN activation) and softmax (one per attention score).
 *   On x86-64 CPUs with AVX2+FMA (checked at run time) they are computed
 *   eight at a time with polynomial approximations: exp by range reduction
 *   to [-ln2/2, ln2/2] and a degree-6 polynomial (Cephes expf, about 2 ulp);
 *   the erf GELU as x * Phi(x) with Phi from the Numerical Recipes erfc
 *   approximation (relative error < 1.2e-7, and no cancellation for
 *   negative x); the tanh GELU as x * sigmoid(2y), the same function as
 *   x (1 + tanh y) / 2.  The portable path uses libm (erff, tanhf, expf).
 *   Both agree with double-precision references to about 1e-6 (tests).
 * - Products with few rows (at most SMALL_M_MAX tokens: a short query, a
 *   small batch) skip OpenBLAS on AVX2 CPUs.  There, OpenBLAS spends a
 *   quarter of its time packing the weight matrix, which is read once per
 *   call, and its kernel is tuned for large blocks: measured 1.4-2.3x
 *   slower than a direct kernel at 8-16 rows, 1.05-1.2x at 32-64, about
 *   even at 128 (bench/RESULTS.md).  The direct kernel (linear_small_m)
 *   computes each output as a dot product of an activation row and a
 *   weight row (both contiguous in K): blocks of 4 rows x 3 weight rows in
 *   12 registers, the next weight rows prefetched.  Every output element
 *   is the same sum in the same order (8 lanes accumulated over K, then
 *   added pairwise, then the tail) whatever the blocking, so a row's result
 *   does not depend on M or on the column block it is computed in.
 * - The Conv1D form (embed_linear_kn_strided, W stored [K, N]: GPT-2) has
 *   its own direct kernel up to KN_SMALL_M_MAX rows, linear_kn_small_m:
 *   OpenBLAS measured 1.8-2.4x slower at 1 row, 1.5-1.7x at 8, 1.1-1.2x
 *   at 32, even to 1.07x at 64 (bench/RESULTS.md), so the limit stays 64.
 *   An output column is strided in W, so W is copied in chunks of 32 rows
 *   x up to 128 columns, read row by row (512 contiguous bytes), into
 *   16-column panels; blocks of up to 6 rows x 16 columns are then summed
 *   in 12 registers (A[m,k] broadcast, one FMA per output).  The row 8
 *   ahead is prefetched while copying, and the next chunk, slice by slice,
 *   while the current one is multiplied, so that memory keeps streaming
 *   during the arithmetic.  Each output is the sum, in k order, of partial
 *   sums of 32 products (FMA chains from 0, chunks aligned at k = 0), then
 *   added to C: the same operations whatever M, the row block or the
 *   column block, and closer to the exact sum than one chain over K (as
 *   close as OpenBLAS or closer).  It uses 48 KB of stack.
 */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "avx2.h"

/* Most rows for which linear products use the direct kernel. */
#define SMALL_M_MAX 64

/* The same for the Conv1D form (weights stored [K, N]). */
#define KN_SMALL_M_MAX 64

/* -1 until first use; then whether the AVX2 kernels are used. */
static int	simd_state = -1;

/* Whether this CPU can run the AVX2+FMA kernels. */
bool
embed_kernels_simd_available(void)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* Select the AVX2 (if available) or portable kernels. */
bool
embed_kernels_use_simd(bool enable)
{
	simd_state = enable && embed_kernels_simd_available();
	return simd_state;
}

/* Whether to take the AVX2 path (decided once). */
static inline bool
use_simd(void)
{
	if (simd_state < 0)
		simd_state = embed_kernels_simd_available();
	return simd_state;
}

/* Single-threaded OpenBLAS, SIMD choice made (on the calling thread). */
void
embed_kernels_init(void)
{
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
	(void) use_simd();
}

#ifdef EMBED_HAVE_AVX2_KERNELS

/*
 * exp(x) for 8 floats: Cephes expf polynomial; inputs above 88.3 are
 * clamped there, inputs below -87.3 (where exp underflows) give 0.
 */
AVX2_TARGET static inline __m256
exp8(__m256 x)
{
	__m256		n,
				r,
				p;
	__m256i		pow2n;
	__m256		underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);

	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
	n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
						_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n)));
}

/* erf GELU for 8 floats: x * Phi(x), Phi from erfc(|x| / sqrt 2). */
AVX2_TARGET static inline __m256
gelu_erf8(__m256 x)
{
	__m256		z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
	__m256		t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
	__m256		p = _mm256_set1_ps(0.17087277f);
	__m256		half_erfc,
				phi;

	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
	p = _mm256_fnmadd_ps(z, z, p);
	half_erfc = _mm256_mul_ps(_mm256_mul_ps(t, exp8(p)), _mm256_set1_ps(0.5f));
	phi = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc,
						   _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
	return _mm256_mul_ps(x, phi);
}

/* tanh GELU for 8 floats: x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)). */
AVX2_TARGET static inline __m256
gelu_tanh8(__m256 x)
{
	__m256		x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
	__m256		y2 = _mm256_mul_ps(_mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x),
								   _mm256_set1_ps(-1.5957691216057308f));
	__m256		e = exp8(y2);

	return _mm256_div_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

/* C[M,N] = act(C + bias) with the 8-wide kernels; a short tail goes through a buffer. */
AVX2_TARGET static void
bias_activation_avx2(int M, int N, float *C, int ldc, const float *bias, EmbedActivation act)
{
	for (int i = 0; i < M; i++)
	{
		float	   *row = C + (size_t) i * ldc;
		int			j = 0;

		for (; j + 8 <= N; j += 8)
		{
			__m256		v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j));

			_mm256_storeu_ps(row + j, act == EMBED_ACT_GELU_TANH ? gelu_tanh8(v) : gelu_erf8(v));
		}
		if (j < N)
		{
			float		buf[8] = {0};
			__m256		v;

			for (int k = j; k < N; k++)
				buf[k - j] = row[k] + bias[k];
			v = _mm256_loadu_ps(buf);
			_mm256_storeu_ps(buf, act == EMBED_ACT_GELU_TANH ? gelu_tanh8(v) : gelu_erf8(v));
			for (int k = j; k < N; k++)
				row[k] = buf[k - j];
		}
	}
}

/* Softmax of x[n] in place with the 8-wide exp. */
AVX2_TARGET static void
softmax_avx2(int n, float *x)
{
	__m256		vmax = _mm256_set1_ps(-INFINITY);
	__m256		vsum = _mm256_setzero_ps();
	__m256		vinv;
	float		max,
				sum,
				lanes[8];
	int			j;

	for (j = 0; j + 8 <= n; j += 8)
		vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + j));
	_mm256_storeu_ps(lanes, vmax);
	max = lanes[0];
	for (int k = 1; k < 8; k++)
		max = lanes[k] > max ? lanes[k] : max;
	for (; j < n; j++)
		max = x[j] > max ? x[j] : max;

	for (j = 0; j + 8 <= n; j += 8)
	{
		__m256		e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), _mm256_set1_ps(max)));

		_mm256_storeu_ps(x + j, e);
		vsum = _mm256_add_ps(vsum, e);
	}
	_mm256_storeu_ps(lanes, vsum);
	sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
	if (j < n)
	{
		float		buf[8] = {0};

		for (int k = j; k < n; k++)
			buf[k - j] = x[k] - max;
		_mm256_storeu_ps(buf, exp8(_mm256_loadu_ps(buf)));
		for (int k = j; k < n; k++)
		{
			x[k] = buf[k - j];
			sum += x[k];
		}
	}
	vinv = _mm256_set1_ps(1.0f / sum);
	for (j = 0; j + 8 <= n; j += 8)
		_mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), vinv));
	for (; j < n; j++)
		x[j] *= 1.0f / sum;
}

#endif							/* EMBED_HAVE_AVX2_KERNELS */

#ifdef EMBED_HAVE_AVX2_KERNELS

/* Dot product tail: the K % 8 last terms, added to the lane sum. */
static inline float
dot_tail(float sum, const float *a, const float *w, int k0, int K)
{
	for (int k = k0; k < K; k++)
		sum += a[k] * w[k];
	return sum;
}

/* Store or accumulate one output. */
static inline void
store_output(float *c, float v, bool accumulate)
{
	*c = accumulate ? *c + v : v;
}

/*
 * C[M,N] (+)= A[M,K] W[N,K]^T for small M: 4 x 3 blocks of dot products,
 * then single rows, then single weight rows; every output computed the
 * same way (see the design notes).
 */
AVX2_TARGET static void
linear_small_m(int M, int N, int K, const float *A, int lda,
			   const float *W, int ldw, float *C, int ldc, bool accumulate)
{
	int			K8 = K & ~7;
	int			n = 0;

	for (; n + 3 <= N; n += 3)
	{
		const float *w0 = W + (size_t) n * ldw,
				   *w1 = w0 + ldw,
				   *w2 = w1 + ldw;
		const float *next = n + 6 <= N ? w0 + (size_t) 3 * ldw : NULL;
		int			m = 0;

		for (; m + 4 <= M; m += 4)
		{
			const float *a0 = A + (size_t) m * lda,
					   *a1 = a0 + lda,
					   *a2 = a1 + lda,
					   *a3 = a2 + lda;
			__m256		c00 = _mm256_setzero_ps(),
						c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
						c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
			float	   *r = C + (size_t) m * ldc + n;

			for (int k = 0; k < K8; k += 8)
			{
				__m256		x0 = _mm256_loadu_ps(w0 + k),
							x1 = _mm256_loadu_ps(w1 + k),
							x2 = _mm256_loadu_ps(w2 + k);
				__m256		a;

				if (m == 0 && next && (k & 15) == 0)
				{
					_mm_prefetch((const char *) (next + k), _MM_HINT_T0);
					_mm_prefetch((const char *) (next + ldw + k), _MM_HINT_T0);
					_mm_prefetch((const char *) (next + 2 * (size_t) ldw + k), _MM_HINT_T0);
				}
				a = _mm256_loadu_ps(a0 + k);
				c00 = _mm256_fmadd_ps(a, x0, c00);
				c01 = _mm256_fmadd_ps(a, x1, c01);
				c02 = _mm256_fmadd_ps(a, x2, c02);
				a = _mm256_loadu_ps(a1 + k);
				c10 = _mm256_fmadd_ps(a, x0, c10);
				c11 = _mm256_fmadd_ps(a, x1, c11);
				c12 = _mm256_fmadd_ps(a, x2, c12);
				a = _mm256_loadu_ps(a2 + k);
				c20 = _mm256_fmadd_ps(a, x0, c20);
				c21 = _mm256_fmadd_ps(a, x1, c21);
				c22 = _mm256_fmadd_ps(a, x2, c22);
				a = _mm256_loadu_ps(a3 + k);
				c30 = _mm256_fmadd_ps(a, x0, c30);
				c31 = _mm256_fmadd_ps(a, x1, c31);
				c32 = _mm256_fmadd_ps(a, x2, c32);
			}
			store_output(r, dot_tail(embed_hsum8(c00), a0, w0, K8, K), accumulate);
			store_output(r + 1, dot_tail(embed_hsum8(c01), a0, w1, K8, K), accumulate);
			store_output(r + 2, dot_tail(embed_hsum8(c02), a0, w2, K8, K), accumulate);
			r += ldc;
			store_output(r, dot_tail(embed_hsum8(c10), a1, w0, K8, K), accumulate);
			store_output(r + 1, dot_tail(embed_hsum8(c11), a1, w1, K8, K), accumulate);
			store_output(r + 2, dot_tail(embed_hsum8(c12), a1, w2, K8, K), accumulate);
			r += ldc;
			store_output(r, dot_tail(embed_hsum8(c20), a2, w0, K8, K), accumulate);
			store_output(r + 1, dot_tail(embed_hsum8(c21), a2, w1, K8, K), accumulate);
			store_output(r + 2, dot_tail(embed_hsum8(c22), a2, w2, K8, K), accumulate);
			r += ldc;
			store_output(r, dot_tail(embed_hsum8(c30), a3, w0, K8, K), accumulate);
			store_output(r + 1, dot_tail(embed_hsum8(c31), a3, w1, K8, K), accumulate);
			store_output(r + 2, dot_tail(embed_hsum8(c32), a3, w2, K8, K), accumulate);
		}
		for (; m < M; m++)
		{
			const float *a0 = A + (size_t) m * lda;
			__m256		c0 = _mm256_setzero_ps(),
						c1 = c0,
						c2 = c0;
			float	   *r = C + (size_t) m * ldc + n;

			for (int k = 0; k < K8; k += 8)
			{
				__m256		a = _mm256_loadu_ps(a0 + k);

				c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w0 + k), c0);
				c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w1 + k), c1);
				c2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w2 + k), c2);
			}
			store_output(r, dot_tail(embed_hsum8(c0), a0, w0, K8, K), accumulate);
			store_output(r + 1, dot_tail(embed_hsum8(c1), a0, w1, K8, K), accumulate);
			store_output(r + 2, dot_tail(embed_hsum8(c2), a0, w2, K8, K), accumulate);
		}
	}
	for (; n < N; n++)
	{
		const float *w0 = W + (size_t) n * ldw;

		for (int m = 0; m < M; m++)
		{
			const float *a0 = A + (size_t) m * lda;
			__m256		c0 = _mm256_setzero_ps();

			for (int k = 0; k < K8; k += 8)
				c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + k), _mm256_loadu_ps(w0 + k), c0);
			store_output(C + (size_t) m * ldc + n, dot_tail(embed_hsum8(c0), a0, w0, K8, K), accumulate);
		}
	}
}

/* Weight rows and columns packed at a time by the Conv1D-form kernel. */
#define KN_CHUNK 32
#define KN_GROUP 128

/* Rows of one of its register blocks (each 16 columns wide). */
#define KN_ROWS 6

/* Weight rows prefetched ahead while packing. */
#define KN_AHEAD 8

/* Lane mask of the columns [base, base + 8) below width. */
AVX2_TARGET static inline __m256i
lanes_below(int width, int base)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(width - base),
							  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * Prefetch rows [first, last) of W, width floats each, rows ldw apart.
 * Always inlined: GCC deems a function that only prefetches free of effects
 * and drops its calls.
 */
AVX2_TARGET static inline __attribute__((always_inline)) void
prefetch_rows(const float *W, int ldw, int width, int first, int last)
{
	for (int k = first; k < last; k++)
	{
		const float *w = W + (size_t) k * ldw;

		for (int j = 0; j < width; j += 16)
			_mm_prefetch((const char *) (w + j), _MM_HINT_T0);
		_mm_prefetch((const char *) (w + width - 1), _MM_HINT_T0);
	}
}

/*
 * sums[R, 16] += A[R, count] panel[count, 16]: the products summed in
 * registers from 0 (for each k in order, A[r, k] broadcast and one FMA per
 * output), then added to sums.
 */
AVX2_TARGET static inline __attribute__((always_inline)) void
kn_block(const int R, int count, const float *A, int lda, const float *panel, float *sums)
{
	__m256		lo[KN_ROWS],
				hi[KN_ROWS];

#pragma GCC unroll 6
	for (int r = 0; r < R; r++)
		lo[r] = hi[r] = _mm256_setzero_ps();
	for (int k = 0; k < count; k++)
	{
		__m256		w0 = _mm256_load_ps(panel + 16 * k),
					w1 = _mm256_load_ps(panel + 16 * k + 8);

#pragma GCC unroll 6
		for (int r = 0; r < R; r++)
		{
			__m256		a = _mm256_broadcast_ss(A + (size_t) r * lda + k);

			lo[r] = _mm256_fmadd_ps(a, w0, lo[r]);
			hi[r] = _mm256_fmadd_ps(a, w1, hi[r]);
		}
	}
#pragma GCC unroll 6
	for (int r = 0; r < R; r++)
	{
		_mm256_store_ps(sums + 16 * r, _mm256_add_ps(_mm256_load_ps(sums + 16 * r), lo[r]));
		_mm256_store_ps(sums + 16 * r + 8, _mm256_add_ps(_mm256_load_ps(sums + 16 * r + 8), hi[r]));
	}
}

/* kn_block with R = rows (1 to KN_ROWS) known at compile time. */
AVX2_TARGET static void
kn_rows(int rows, int count, const float *A, int lda, const float *panel, float *sums)
{
	switch (rows)
	{
		case 1:
			kn_block(1, count, A, lda, panel, sums);
			break;
		case 2:
			kn_block(2, count, A, lda, panel, sums);
			break;
		case 3:
			kn_block(3, count, A, lda, panel, sums);
			break;
		case 4:
			kn_block(4, count, A, lda, panel, sums);
			break;
		case 5:
			kn_block(5, count, A, lda, panel, sums);
			break;
		case 6:
			kn_block(6, count, A, lda, panel, sums);
			break;
	}
}

/*
 * Copy W[count, width] (rows ldw apart, width <= KN_GROUP) row by row
 * into 16-column panels packed[p][count][16], KN_CHUNK * 16 floats apart,
 * zero-padded; the row KN_AHEAD ahead is prefetched while below rows_left.
 */
AVX2_TARGET static void
kn_pack(int count, const float *W, int ldw, int width, int rows_left, float *packed)
{
	int			full = width & ~15;
	__m256i		mask_lo = lanes_below(width - full, 0),
				mask_hi = lanes_below(width - full, 8);

	for (int k = 0; k < count; k++)
	{
		const float *w = W + (size_t) k * ldw;
		float	   *out = packed + 16 * k;
		int			j = 0;

		if (k + KN_AHEAD < rows_left)
			prefetch_rows(W, ldw, width, k + KN_AHEAD, k + KN_AHEAD + 1);
		for (; j < full; j += 16, out += KN_CHUNK * 16)
		{
			_mm256_store_ps(out, _mm256_loadu_ps(w + j));
			_mm256_store_ps(out + 8, _mm256_loadu_ps(w + j + 8));
		}
		if (j < width)
		{
			_mm256_store_ps(out, _mm256_maskload_ps(w + j, mask_lo));
			_mm256_store_ps(out + 8, _mm256_maskload_ps(w + j + 8, mask_hi));
		}
	}
}

/*
 * C[M,N] (+)= A[M,K] W[K,N] for M <= KN_SMALL_M_MAX, W stored [K, N]: per
 * group of KN_GROUP columns, chunks of KN_CHUNK weight rows packed, then
 * every 16-column panel times balanced blocks of up to KN_ROWS rows, the
 * sums kept between chunks while the next chunk is prefetched, a slice per
 * panel; every output computed the same way (see the design notes).
 */
AVX2_TARGET static void
linear_kn_small_m(int M, int N, int K, const float *A, int lda,
				  const float *W, int ldw, float *C, int ldc, bool accumulate)
{
	float		sums[KN_SMALL_M_MAX * KN_GROUP] __attribute__((aligned(32)));
	float		packed[KN_CHUNK * KN_GROUP] __attribute__((aligned(32)));
	int			blocks = (M + KN_ROWS - 1) / KN_ROWS;

	for (int n = 0; n < N; n += KN_GROUP)
	{
		int			width = N - n < KN_GROUP ? N - n : KN_GROUP;
		int			panels = (width + 15) / 16;
		int			slice = (KN_CHUNK + panels - 1) / panels;

		memset(sums, 0, sizeof(float) * 16 * M * panels);
		for (int k0 = 0; k0 < K; k0 += KN_CHUNK)
		{
			int			count = K - k0 < KN_CHUNK ? K - k0 : KN_CHUNK;
			int			next_end = K - k0 < 2 * KN_CHUNK ? K : k0 + 2 * KN_CHUNK;

			kn_pack(count, W + (size_t) k0 * ldw + n, ldw, width, K - k0, packed);
			for (int p = 0; p < panels; p++)
			{
				int			first = k0 + KN_CHUNK + p * slice;
				int			m = 0;

				prefetch_rows(W + n, ldw, width, first,
							  first + slice < next_end ? first + slice : next_end);
				for (int b = 0; b < blocks; b++)
				{
					int			rows = M / blocks + (b < M % blocks);

					kn_rows(rows, count, A + (size_t) m * lda + k0, lda,
							packed + p * KN_CHUNK * 16, sums + 16 * (p * M + m));
					m += rows;
				}
			}
		}
		for (int m = 0; m < M; m++)
		{
			float	   *c = C + (size_t) m * ldc + n;

			for (int j = 0; j < width; j++)
			{
				float		s = sums[16 * ((j / 16) * M + m) + j % 16];

				c[j] = accumulate ? c[j] + s : s;
			}
		}
	}
}

#endif							/* EMBED_HAVE_AVX2_KERNELS */

/* C = A W^T (+ bias) with one double accumulator per element. */
void
embed_matmul_naive(int M, int N, int K, const float *A, const float *W,
				   const float *bias, float *C)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		sum = bias ? bias[j] : 0.0;

			for (int p = 0; p < K; p++)
				sum += (double) A[(size_t) i * K + p] * W[(size_t) j * K + p];
			C[(size_t) i * N + j] = (float) sum;
		}
}

/* C = A W^T, or C += A W^T, with one sgemm. */
void
embed_linear(int M, int N, int K, const float *A, const float *W,
			 float *C, bool accumulate)
{
	embed_linear_strided(M, N, K, A, K, W, K, C, N, accumulate);
}

/* The same with explicit row strides; few rows take the direct AVX2 kernel. */
void
embed_linear_strided(int M, int N, int K, const float *A, int lda,
					 const float *W, int ldw, float *C, int ldc, bool accumulate)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (M <= SMALL_M_MAX && use_simd())
	{
		linear_small_m(M, N, K, A, lda, W, ldw, C, ldc, accumulate);
		return;
	}
#endif
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K,
				1.0f, A, lda, W, ldw, accumulate ? 1.0f : 0.0f, C, ldc);
}

/* C = A W, or C += A W, with W stored [K, N] (a Conv1D weight). */
void
embed_linear_kn_strided(int M, int N, int K, const float *A, int lda,
						const float *W, int ldw, float *C, int ldc, bool accumulate)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (M <= KN_SMALL_M_MAX && use_simd())
	{
		linear_kn_small_m(M, N, K, A, lda, W, ldw, C, ldc, accumulate);
		return;
	}
#endif
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
				1.0f, A, lda, W, ldw, accumulate ? 1.0f : 0.0f, C, ldc);
}

/* Add bias to every row. */
void
embed_add_bias(int M, int N, float *C, const float *bias)
{
	embed_add_bias_strided(M, N, C, N, bias);
}

/* Add bias to every row, rows ldc floats apart. */
void
embed_add_bias_strided(int M, int N, float *C, int ldc, const float *bias)
{
	for (int i = 0; i < M; i++)
	{
		float	   *row = C + (size_t) i * ldc;

		for (int j = 0; j < N; j++)
			row[j] += bias[j];
	}
}

/* Exact GELU with libm erff. */
float
embed_gelu_erf(float x)
{
	return 0.5f * x * (1.0f + erff(x * (float) M_SQRT1_2));
}

/* Tanh-approximated GELU with libm tanhf. */
float
embed_gelu_tanh(float x)
{
	const float c = 0.7978845608028654f;	/* sqrt(2 / pi) */

	return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

/* Fused bias add and activation, in place. */
void
embed_add_bias_activation(int M, int N, float *C, const float *bias, EmbedActivation act)
{
	embed_add_bias_activation_strided(M, N, C, N, bias, act);
}

/* Fused bias add and activation, in place, rows ldc floats apart. */
void
embed_add_bias_activation_strided(int M, int N, float *C, int ldc, const float *bias,
								  EmbedActivation act)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (use_simd())
	{
		bias_activation_avx2(M, N, C, ldc, bias, act);
		return;
	}
#endif
	for (int i = 0; i < M; i++)
	{
		float	   *row = C + (size_t) i * ldc;

		if (act == EMBED_ACT_GELU_TANH)
			for (int j = 0; j < N; j++)
				row[j] = embed_gelu_tanh(row[j] + bias[j]);
		else
			for (int j = 0; j < N; j++)
				row[j] = embed_gelu_erf(row[j] + bias[j]);
	}
}

/* Row-wise LayerNorm in place, optional bias added first. */
void
embed_layernorm(int M, int N, float *x, const float *bias,
				const float *gamma, const float *beta, float eps)
{
	for (int i = 0; i < M; i++)
	{
		float	   *row = x + (size_t) i * N;
		double		sum = 0.0;
		double		sq = 0.0;
		double		mean;
		float		inv_std;
		float		fmean;

		if (bias)
			for (int j = 0; j < N; j++)
				row[j] += bias[j];
		for (int j = 0; j < N; j++)
			sum += row[j];
		mean = sum / N;
		for (int j = 0; j < N; j++)
		{
			double		d = row[j] - mean;

			sq += d * d;
		}
		inv_std = (float) (1.0 / sqrt(sq / N + eps));
		fmean = (float) mean;
		for (int j = 0; j < N; j++)
			row[j] = (row[j] - fmean) * inv_std * gamma[j] + beta[j];
	}
}

/* Softmax in place, maximum subtracted first. */
void
embed_softmax(int n, float *x)
{
	float		max = x[0];
	float		sum = 0.0f;
	float		inv;

#ifdef EMBED_HAVE_AVX2_KERNELS
	if (use_simd())
	{
		softmax_avx2(n, x);
		return;
	}
#endif
	for (int j = 1; j < n; j++)
		if (x[j] > max)
			max = x[j];
	for (int j = 0; j < n; j++)
	{
		x[j] = expf(x[j] - max);
		sum += x[j];
	}
	inv = 1.0f / sum;
	for (int j = 0; j < n; j++)
		x[j] *= inv;
}

/* Self-attention of one unpadded sequence, head by head, context over q. */
void
embed_attention(int len, int heads, int head_dim, int ld,
				float *q, const float *k, const float *v, float *scores)
{
	for (int h = 0; h < heads; h++)
		embed_attention_head(len, head_dim, ld, q + (size_t) h * head_dim,
							 k + (size_t) h * head_dim, v + (size_t) h * head_dim, scores);
}

/*
 * One head: ctx = softmax(q k^T / sqrt(d)) v, written over q.  With causal,
 * row i attends to positions 0..i only: the scores of the later positions
 * are set to exactly 0 after the softmax over the allowed ones, which is
 * what a -inf (or float-min) mask before the softmax gives.
 */
static void
attention_head(int len, int head_dim, int ld, bool causal,
			   float *q, const float *k, const float *v, float *scores)
{
	float		scale = (float) (1.0 / sqrt((double) head_dim));

	/* scores[len, len] = q k^T * scale */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, head_dim,
				scale, q, ld, k, ld, 0.0f, scores, len);
	for (int i = 0; i < len; i++)
	{
		float	   *row = scores + (size_t) i * len;

		if (causal)
		{
			embed_softmax(i + 1, row);
			memset(row + i + 1, 0, sizeof(float) * (size_t) (len - i - 1));
		}
		else
			embed_softmax(len, row);
	}
	/* ctx[len, head_dim] = scores v, over q (no longer needed) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, head_dim, len,
				1.0f, scores, len, v, ld, 0.0f, q, ld);
}

/* One bidirectional head (encoders). */
void
embed_attention_head(int len, int head_dim, int ld,
					 float *q, const float *k, const float *v, float *scores)
{
	attention_head(len, head_dim, ld, false, q, k, v, scores);
}

/* One causal head (decoders). */
void
embed_attention_head_causal(int len, int head_dim, int ld,
							float *q, const float *k, const float *v, float *scores)
{
	attention_head(len, head_dim, ld, true, q, k, v, scores);
}

/* Word + token-type + position embeddings of one sequence. */
void
embed_embedding_sum(int len, int hidden, const int32_t *ids, const int32_t *type_ids,
					const float *word, const float *position,
					const float *token_type, int position_pad_id, float *out)
{
	int			real = 0;		/* non-padding tokens so far (RoBERTa positions) */

	for (int i = 0; i < len; i++)
	{
		const float *w = word + (size_t) ids[i] * hidden;
		size_t		pos = (size_t) i;
		const float *p;
		float	   *o = out + (size_t) i * hidden;

		if (position_pad_id >= 0)
			pos = ids[i] == position_pad_id ? (size_t) position_pad_id
				: (size_t) position_pad_id + (size_t) ++real;
		p = position + pos * hidden;
		if (token_type)
		{
			const float *t = token_type + (size_t) (type_ids ? type_ids[i] : 0) * hidden;

			for (int j = 0; j < hidden; j++)
				o[j] = w[j] + t[j] + p[j];
		}
		else
			for (int j = 0; j < hidden; j++)
				o[j] = w[j] + p[j];
	}
}

/* Mean of count rows (double accumulation). */
void
embed_pool_mean(int count, int hidden, const float *x, float *out)
{
	for (int j = 0; j < hidden; j++)
	{
		double		sum = 0.0;

		for (int i = 0; i < count; i++)
			sum += x[(size_t) i * hidden + j];
		out[j] = count > 0 ? (float) (sum / count) : 0.0f;
	}
}

/* The first row. */
void
embed_pool_cls(int count, int hidden, const float *x, float *out)
{
	if (count > 0)
		memcpy(out, x, sizeof(float) * hidden);
	else
		memset(out, 0, sizeof(float) * hidden);
}

/* Element-wise maximum of count rows. */
void
embed_pool_max(int count, int hidden, const float *x, float *out)
{
	if (count <= 0)
	{
		memset(out, 0, sizeof(float) * hidden);
		return;
	}
	memcpy(out, x, sizeof(float) * hidden);
	for (int i = 1; i < count; i++)
	{
		const float *row = x + (size_t) i * hidden;

		for (int j = 0; j < hidden; j++)
			if (row[j] > out[j])
				out[j] = row[j];
	}
}

/* Divide by the L2 norm (at least 1e-12). */
void
embed_l2_normalize(int n, float *x)
{
	double		sq = 0.0;
	float		inv;

	for (int j = 0; j < n; j++)
		sq += (double) x[j] * x[j];
	inv = (float) (1.0 / fmax(sqrt(sq), 1e-12));
	for (int j = 0; j < n; j++)
		x[j] *= inv;
}
