/*
 * bf16 x bf16 -> float32 matrix multiply for decoding on one CPU thread, with AVX512_BF16's vdpbf16ps, over weights
 * packed once at load. MKL and oneDNN repack the weight matrix on every call, which costs as much as the multiply on
 * a decoding step's few rows. Built with the TranslationTrainer project when a C compiler is present
 * (src/TranslationTrainer/TranslationTrainer.csproj); Model/PackedBFloat16.cs loads it and calls it only where the
 * CPU reports avx512_bf16.
 */
#include <immintrin.h>
#include <stddef.h>
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

/* out (m x n, float32) = x (m x k, bfloat16) . w^T + bias (n, float32, or NULL), w packed by tt_bf16_pack. */
__attribute__((target("avx512f,avx512bf16")))
void tt_bf16_gemm(const uint16_t *x, const uint16_t *packed, const float *bias, float *out, int m, int n, int k) {
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
                _mm512_storeu_ps(out + (size_t)(row0 + r) * n + 16 * block, acc0[r]);
                if (second) _mm512_storeu_ps(out + (size_t)(row0 + r) * n + 16 * (block + 1), acc1[r]);
            }
        }
    }
}
