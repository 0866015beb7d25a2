/*
 * bf16 kernels for decoding on one CPU thread (Model/BFloat16Kernels.cs):
 * - a bf16 x bf16 -> float32 matrix multiply with AVX512_BF16's vdpbf16ps over weights packed once at load (MKL and
 *   oneDNN repack the weight matrix on every call, which costs as much as the multiply on a decoding step's few rows);
 * - one step's attention over a bfloat16 key/value cache in one call, where libtorch takes ten small operations.
 * Built with the TranslationTrainer project when a C compiler is present (src/TranslationTrainer/TranslationTrainer.csproj)
 * and called only where the CPU reports avx512_bf16.
 */
#include <immintrin.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>

/* w (n x k, row-major bfloat16) -> blocks of 16 outputs; per block and pair of inputs, the 16 outputs' two weights
 * side by side (32 bfloat16), the layout vdpbf16ps multiplies. n % 16 == 0, k even. */
void tt_bf16_pack(const uint16_t *w, uint16_t *packed, int n, int k) {
    int pairs = k / 2;
    for (int block = 0; block < n / 16; block++)
        for (int p = 0; p < pairs; p++)
            for (int c = 0; c < 16; c++) {
                uint16_t *to = packed + ((size_t)block * pairs + p) * 32 + 2 * c;
                const uint16_t *from = w + (size_t)(16 * block + c) * k + 2 * p;
                to[0] = from[0];
                to[1] = from[1];
            }
}

#define ROWS 12 /* rows of x per pass: 2 x 12 accumulators + 2 weight vectors + 1 broadcast fit in 32 registers */

/* 16 results: ReLU'd if asked, stored as float32 or (rounded to nearest even) bfloat16. */
__attribute__((target("avx512f,avx512bf16")))
static inline void store16(void *out, size_t at, __m512 v, int relu, int bf16_out) {
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (bf16_out) _mm256_storeu_si256((__m256i *)((uint16_t *)out + at), (__m256i)_mm512_cvtneps_pbh(v));
    else _mm512_storeu_ps((float *)out + at, v);
}

/* out (m x n) = x (m x k, bfloat16) . w^T + bias (n, float32, or NULL), w packed by tt_bf16_pack; then ReLU if `relu`;
 * out is float32, or bfloat16 if `bf16_out` (a result that only feeds another bf16 multiply). */
__attribute__((target("avx512f,avx512bf16")))
void tt_bf16_gemm(const uint16_t *x, const uint16_t *packed, const float *bias, void *out, int m, int n, int k, int relu, int bf16_out) {
    int pairs = k / 2, blocks = n / 16;
    for (int row0 = 0; row0 < m; row0 += ROWS) {
        int rows = m - row0 < ROWS ? m - row0 : ROWS;
        const uint32_t *xpairs = (const uint32_t *)(x + (size_t)row0 * k); /* two bfloat16 inputs per uint32 */
        for (int block = 0; block < blocks; block += 2) {
            int second = block + 1 < blocks;
            __m512 first_bias = bias ? _mm512_loadu_ps(bias + 16 * block) : _mm512_setzero_ps();
            __m512 second_bias = bias && second ? _mm512_loadu_ps(bias + 16 * (block + 1)) : _mm512_setzero_ps();
            __m512 acc0[ROWS], acc1[ROWS];
            for (int r = 0; r < ROWS; r++) { acc0[r] = first_bias; acc1[r] = second_bias; }
            const uint16_t *w0 = packed + (size_t)block * pairs * 32;
            const uint16_t *w1 = w0 + (size_t)pairs * 32;
            if (second && rows == ROWS) {
                for (int p = 0; p < pairs; p++) {
                    __m512bh wa = (__m512bh)_mm512_loadu_si512(w0 + 32 * p);
                    __m512bh wb = (__m512bh)_mm512_loadu_si512(w1 + 32 * p);
                    #pragma GCC unroll 12
                    for (int r = 0; r < ROWS; r++) {
                        __m512bh xv = (__m512bh)_mm512_set1_epi32((int)xpairs[(size_t)r * pairs + p]);
                        acc0[r] = _mm512_dpbf16_ps(acc0[r], xv, wa);
                        acc1[r] = _mm512_dpbf16_ps(acc1[r], xv, wb);
                    }
                }
            } else {
                for (int p = 0; p < pairs; p++) {
                    __m512bh wa = (__m512bh)_mm512_loadu_si512(w0 + 32 * p);
                    __m512bh wb = second ? (__m512bh)_mm512_loadu_si512(w1 + 32 * p) : wa;
                    for (int r = 0; r < rows; r++) {
                        __m512bh xv = (__m512bh)_mm512_set1_epi32((int)xpairs[(size_t)r * pairs + p]);
                        acc0[r] = _mm512_dpbf16_ps(acc0[r], xv, wa);
                        if (second) acc1[r] = _mm512_dpbf16_ps(acc1[r], xv, wb);
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                store16(out, (size_t)(row0 + r) * n + 16 * block, acc0[r], relu, bf16_out);
                if (second) store16(out, (size_t)(row0 + r) * n + 16 * (block + 1), acc1[r], relu, bf16_out);
            }
        }
    }
}

/* e^x for 16 floats: 2^n * e^r with x = n ln2 + r, |r| <= ln2/2, and a degree-6 polynomial (relative error ~2e-7);
 * 0 below e^-87.3, where float32 ends. */
__attribute__((target("avx512f")))
static inline __m512 exp16(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ); /* below: 0 (also -inf and NaN) */
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

/* 16 bfloat16 -> 16 float32 (a bfloat16 is the top half of a float32). */
__attribute__((target("avx512f")))
static inline __m512 load_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

#define MAX_HEAD 256 /* head size, a multiple of 16 up to this */

/*
 * One decoding step's attention: each row has one query per head and attends over `positions` keys/values of its
 * source (row r reads source r / beams). out[r, h, :] = softmax_j(scale * q[r,h,:] . K[s,h,j,:]) . V[s,h,j,:], where
 * masked[s * positions + j] != 0 leaves j out. q: bfloat16, head after head (heads * head_size), rows q_stride apart;
 * keys/values: bfloat16, sources source_stride apart, heads head_stride apart, positions head_size apart;
 * out: float32 (rows, heads * head_size). scores: room for `positions` floats.
 */
__attribute__((target("avx512f")))
void tt_bf16_attend(const uint16_t *q, long q_stride, const uint16_t *keys, const uint16_t *values, long source_stride,
                    long head_stride, const uint8_t *masked, float *out, float *scores, int rows, int beams, int heads,
                    int head_size, int positions, float scale) {
    int chunks = head_size / 16;
    for (int r = 0; r < rows; r++) {
        long source = r / beams;
        for (int h = 0; h < heads; h++) {
            __m512 query[MAX_HEAD / 16], context[MAX_HEAD / 16];
            for (int c = 0; c < chunks; c++) {
                query[c] = _mm512_mul_ps(load_bf16(q + (long)r * q_stride + (long)h * head_size + 16 * c), _mm512_set1_ps(scale));
                context[c] = _mm512_setzero_ps();
            }
            const uint16_t *k = keys + source * source_stride + (long)h * head_stride;
            const uint16_t *v = values + source * source_stride + (long)h * head_stride;
            const uint8_t *skip = masked ? masked + source * positions : 0;
            float max = -INFINITY;
            for (int j = 0; j < positions; j++) {
                if (skip && skip[j]) { scores[j] = -INFINITY; continue; }
                __m512 dot = _mm512_mul_ps(query[0], load_bf16(k + (long)j * head_size));
                for (int c = 1; c < chunks; c++) dot = _mm512_fmadd_ps(query[c], load_bf16(k + (long)j * head_size + 16 * c), dot);
                scores[j] = _mm512_reduce_add_ps(dot);
                if (scores[j] > max) max = scores[j];
            }
            float *o = out + ((long)r * heads + h) * head_size;
            if (max == -INFINITY) { /* every key masked: no attention, as softmax over nothing would give NaN */
                for (int c = 0; c < chunks; c++) _mm512_storeu_ps(o + 16 * c, _mm512_set1_ps(NAN));
                continue;
            }
            __m512 sums = _mm512_setzero_ps();
            int j = 0;
            for (; j + 16 <= positions; j += 16) {
                __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + j), _mm512_set1_ps(max)));
                _mm512_storeu_ps(scores + j, e);
                sums = _mm512_add_ps(sums, e);
            }
            if (j < positions) {
                __mmask16 tail = (__mmask16)((1u << (positions - j)) - 1);
                __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, scores + j), _mm512_set1_ps(max)));
                _mm512_mask_storeu_ps(scores + j, tail, e);
                sums = _mm512_add_ps(sums, _mm512_maskz_mov_ps(tail, e));
            }
            float inverse = 1.0f / _mm512_reduce_add_ps(sums);
            for (int p = 0; p < positions; p++) {
                if (scores[p] == 0.0f) continue; /* masked (exp(-inf) = 0): its value may be anything */
                __m512 weight = _mm512_set1_ps(scores[p] * inverse);
                for (int c = 0; c < chunks; c++) context[c] = _mm512_fmadd_ps(weight, load_bf16(v + (long)p * head_size + 16 * c), context[c]);
            }
            for (int c = 0; c < chunks; c++) _mm512_storeu_ps(o + 16 * c, context[c]);
        }
    }
}
