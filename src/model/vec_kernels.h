// Vector kernels shared by the factor models' row solvers (ials CG, als CG):
// dot products, axpy and a symmetric matrix-vector product over float rows of
// any length, in three builds with one interface - Sse2 (the portable x86-64
// baseline, GCC vector extensions), Avx2 (AVX2 + FMA, chosen at run time
// by WideKernelsEnabled) and Avx512 (chosen by Avx512KernelsEnabled). Each
// has a fixed, thread-independent summation order. Internal to src/model.
//
// Thread-safety: pure functions.

#ifndef ENCORE_MODEL_VEC_KERNELS_H_
#define ENCORE_MODEL_VEC_KERNELS_H_

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace encore::model::vec {

typedef float V4 __attribute__((vector_size(16)));

inline V4 Load4(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store4(float* p, V4 v) { std::memcpy(p, &v, sizeof v); }
inline float Sum4(V4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// Rows this far ahead of a gathered pass are prefetched (random rows of a
// table that is larger than the caches).
constexpr uint64_t kGatherPrefetchAhead = 16;
inline void PrefetchRow(const float* row, uint32_t k) {
  const char* p = reinterpret_cast<const char*>(row);
  for (uint32_t b = 0; b < k * sizeof(float); b += 64) __builtin_prefetch(p + b);
}

struct Sse2 {
  // sum a[p] * b[p]
  static inline float Dot(const float* a, const float* b, uint32_t k) {
    V4 s0 = {0, 0, 0, 0}, s1 = s0, s2 = s0, s3 = s0;
    uint32_t p = 0;
    for (; p + 16 <= k; p += 16) {
      s0 += Load4(a + p) * Load4(b + p);
      s1 += Load4(a + p + 4) * Load4(b + p + 4);
      s2 += Load4(a + p + 8) * Load4(b + p + 8);
      s3 += Load4(a + p + 12) * Load4(b + p + 12);
    }
    for (; p + 4 <= k; p += 4) s0 += Load4(a + p) * Load4(b + p);
    float s = Sum4((s0 + s1) + (s2 + s3));
    for (; p < k; ++p) s += a[p] * b[p];
    return s;
  }

  // y += alpha * x
  static inline void Axpy(float alpha, const float* x, float* y, uint32_t k) {
    const V4 a = {alpha, alpha, alpha, alpha};
    uint32_t p = 0;
    for (; p + 8 <= k; p += 8) {
      Store4(y + p, Load4(y + p) + a * Load4(x + p));
      Store4(y + p + 4, Load4(y + p + 4) + a * Load4(x + p + 4));
    }
    for (; p + 4 <= k; p += 4) Store4(y + p, Load4(y + p) + a * Load4(x + p));
    for (; p < k; ++p) y[p] += alpha * x[p];
  }

  // y = x + beta * y
  static inline void Xpby(const float* x, float beta, float* y, uint32_t k) {
    const V4 b = {beta, beta, beta, beta};
    uint32_t p = 0;
    for (; p + 4 <= k; p += 4) Store4(y + p, Load4(x + p) + b * Load4(y + p));
    for (; p < k; ++p) y[p] = x[p] + beta * y[p];
  }

  // out = G v for a symmetric k x k row-major G: out = sum_j v[j] * G[j, :],
  // 32 outputs at a time held in registers.
  static void SymMatVec(const float* g, const float* v, float* out, uint32_t k) {
    uint32_t i0 = 0;
    for (; i0 + 32 <= k; i0 += 32) {
      V4 acc[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) acc[t] = V4{0, 0, 0, 0};
      for (uint32_t j = 0; j < k; ++j) {
        const V4 b = {v[j], v[j], v[j], v[j]};
        const float* row = g + uint64_t{j} * k + i0;
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t) acc[t] += b * Load4(row + 4 * t);
      }
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) Store4(out + i0 + 4 * t, acc[t]);
    }
    for (; i0 + 4 <= k; i0 += 4) {
      V4 acc = {0, 0, 0, 0};
      for (uint32_t j = 0; j < k; ++j) {
        const V4 b = {v[j], v[j], v[j], v[j]};
        acc += b * Load4(g + uint64_t{j} * k + i0);
      }
      Store4(out + i0, acc);
    }
    for (; i0 < k; ++i0) {
      float acc = 0;
      for (uint32_t j = 0; j < k; ++j) acc += v[j] * g[uint64_t{j} * k + i0];
      out[i0] = acc;
    }
  }

  // out[e] = sum_p rows[cols[e]][p] * v[p] for e < n: the n dot products of
  // one pass of a CG step, each in Dot's order; `prefetch` fetches the rows
  // ahead (for rows not already in cache).
  static void GatherDot(const float* table, const uint32_t* cols, uint64_t n, const float* v,
                        float* out, uint32_t k, bool prefetch) {
    for (uint64_t e = 0; e < n; ++e) {
      if (prefetch && e + kGatherPrefetchAhead < n) {
        PrefetchRow(table + uint64_t{cols[e + kGatherPrefetchAhead]} * k, k);
      }
      out[e] = Dot(table + uint64_t{cols[e]} * k, v, k);
    }
  }

  // y += sum_e coef[e] * rows[cols[e]] over the rows (stride k) of `table`:
  // y is held in registers 32 floats at a time while the rows stream past,
  // so the sum is a chain of register FMAs rather than of stores and loads.
  // Summation order: rows in order e = 0, 1, ..., per element.
  static void GatherAxpy(const float* table, const uint32_t* cols, uint64_t n, const float* coef,
                         float* y, uint32_t k) {
    uint32_t p0 = 0;
    for (; p0 + 32 <= k; p0 += 32) {
      V4 acc[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) acc[t] = Load4(y + p0 + 4 * t);
      for (uint64_t e = 0; e < n; ++e) {
        const V4 c = {coef[e], coef[e], coef[e], coef[e]};
        const float* row = table + uint64_t{cols[e]} * k + p0;
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t) acc[t] += c * Load4(row + 4 * t);
      }
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) Store4(y + p0 + 4 * t, acc[t]);
    }
    for (; p0 + 4 <= k; p0 += 4) {
      V4 acc = Load4(y + p0);
      for (uint64_t e = 0; e < n; ++e) {
        const V4 c = {coef[e], coef[e], coef[e], coef[e]};
        acc += c * Load4(table + uint64_t{cols[e]} * k + p0);
      }
      Store4(y + p0, acc);
    }
    for (; p0 < k; ++p0) {
      float acc = y[p0];
      for (uint64_t e = 0; e < n; ++e) acc += coef[e] * table[uint64_t{cols[e]} * k + p0];
      y[p0] = acc;
    }
  }
};

#if defined(__x86_64__)
#define ENCORE_VEC_AVX2 __attribute__((target("avx2,fma")))

struct Avx2 {
  ENCORE_VEC_AVX2 static inline float Dot(const float* a, const float* b, uint32_t k) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    uint32_t p = 0;
    for (; p + 32 <= k; p += 32) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 8), _mm256_loadu_ps(b + p + 8), s1);
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 16), _mm256_loadu_ps(b + p + 16), s2);
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 24), _mm256_loadu_ps(b + p + 24), s3);
    }
    for (; p + 8 <= k; p += 8) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s0);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    float out = Sum4(h);
    for (; p < k; ++p) out = __builtin_fmaf(a[p], b[p], out);
    return out;
  }

  ENCORE_VEC_AVX2 static inline void Axpy(float alpha, const float* x, float* y, uint32_t k) {
    const __m256 a = _mm256_set1_ps(alpha);
    uint32_t p = 0;
    for (; p + 8 <= k; p += 8) {
      _mm256_storeu_ps(y + p, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p)));
    }
    for (; p < k; ++p) y[p] = __builtin_fmaf(alpha, x[p], y[p]);
  }

  ENCORE_VEC_AVX2 static inline void Xpby(const float* x, float beta, float* y, uint32_t k) {
    const __m256 b = _mm256_set1_ps(beta);
    uint32_t p = 0;
    for (; p + 8 <= k; p += 8) {
      _mm256_storeu_ps(y + p, _mm256_fmadd_ps(b, _mm256_loadu_ps(y + p), _mm256_loadu_ps(x + p)));
    }
    for (; p < k; ++p) y[p] = __builtin_fmaf(beta, y[p], x[p]);
  }

  ENCORE_VEC_AVX2 static void SymMatVec(const float* g, const float* v, float* out, uint32_t k) {
    uint32_t i0 = 0;
    for (; i0 + 64 <= k; i0 += 64) {
      __m256 acc[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) acc[t] = _mm256_setzero_ps();
      for (uint32_t j = 0; j < k; ++j) {
        const __m256 b = _mm256_broadcast_ss(v + j);
        const float* row = g + uint64_t{j} * k + i0;
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t)
          acc[t] = _mm256_fmadd_ps(b, _mm256_loadu_ps(row + 8 * t), acc[t]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) _mm256_storeu_ps(out + i0 + 8 * t, acc[t]);
    }
    for (; i0 + 8 <= k; i0 += 8) {
      __m256 acc = _mm256_setzero_ps();
      for (uint32_t j = 0; j < k; ++j) {
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(v + j), _mm256_loadu_ps(g + uint64_t{j} * k + i0),
                              acc);
      }
      _mm256_storeu_ps(out + i0, acc);
    }
    for (; i0 < k; ++i0) {
      float acc = 0;
      for (uint32_t j = 0; j < k; ++j) acc = __builtin_fmaf(v[j], g[uint64_t{j} * k + i0], acc);
      out[i0] = acc;
    }
  }

  // out[e] = rows[cols[e]] . v for e < n. For k = 8 NV (NV <= 8) v stays in
  // registers while the rows stream past, two accumulators per row; other k
  // take Dot per row. Order per row: the two accumulators over alternate
  // 8-float blocks, then their sum reduced as Dot reduces.
  template <int NV>
  ENCORE_VEC_AVX2 static void GatherDotN(const float* table, const uint32_t* cols, uint64_t n,
                                         const float* v, float* out, bool prefetch) {
    constexpr uint32_t k = 8 * NV;
    __m256 w[NV];
#pragma GCC unroll 8
    for (int t = 0; t < NV; ++t) w[t] = _mm256_loadu_ps(v + 8 * t);
    for (uint64_t e = 0; e < n; ++e) {
      if (prefetch && e + kGatherPrefetchAhead < n) {
        PrefetchRow(table + uint64_t{cols[e + kGatherPrefetchAhead]} * k, k);
      }
      const float* row = table + uint64_t{cols[e]} * k;
      __m256 a = _mm256_mul_ps(_mm256_loadu_ps(row), w[0]);
      __m256 b = _mm256_setzero_ps();
#pragma GCC unroll 8
      for (int t = 1; t < NV; ++t) {
        if (t % 2 == 1) {
          b = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * t), w[t], b);
        } else {
          a = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * t), w[t], a);
        }
      }
      const __m256 s = _mm256_add_ps(a, b);
      out[e] = Sum4(_mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
    }
  }

  ENCORE_VEC_AVX2 static void GatherDot(const float* table, const uint32_t* cols, uint64_t n,
                                        const float* v, float* out, uint32_t k, bool prefetch) {
    switch (k) {
      case 16: return GatherDotN<2>(table, cols, n, v, out, prefetch);
      case 32: return GatherDotN<4>(table, cols, n, v, out, prefetch);
      case 48: return GatherDotN<6>(table, cols, n, v, out, prefetch);
      case 64: return GatherDotN<8>(table, cols, n, v, out, prefetch);
      default:
        for (uint64_t e = 0; e < n; ++e) {
          if (prefetch && e + kGatherPrefetchAhead < n) {
            PrefetchRow(table + uint64_t{cols[e + kGatherPrefetchAhead]} * k, k);
          }
          out[e] = Dot(table + uint64_t{cols[e]} * k, v, k);
        }
    }
  }

  ENCORE_VEC_AVX2 static void GatherAxpy(const float* table, const uint32_t* cols, uint64_t n,
                                         const float* coef, float* y, uint32_t k) {
    uint32_t p0 = 0;
    for (; p0 + 64 <= k; p0 += 64) {
      __m256 acc[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) acc[t] = _mm256_loadu_ps(y + p0 + 8 * t);
      for (uint64_t e = 0; e < n; ++e) {
        const __m256 c = _mm256_broadcast_ss(coef + e);
        const float* row = table + uint64_t{cols[e]} * k + p0;
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t)
          acc[t] = _mm256_fmadd_ps(c, _mm256_loadu_ps(row + 8 * t), acc[t]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) _mm256_storeu_ps(y + p0 + 8 * t, acc[t]);
    }
    // Narrower blocks: two rows at a time into two sets of accumulators, so
    // that the FMA chains are twice as many and half as long (k = 32: 8 chains).
    for (; p0 + 32 <= k; p0 += 32) {
      __m256 a[4], b[4];
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        a[t] = _mm256_loadu_ps(y + p0 + 8 * t);
        b[t] = _mm256_setzero_ps();
      }
      uint64_t e = 0;
      for (; e + 2 <= n; e += 2) {
        const __m256 c0 = _mm256_broadcast_ss(coef + e), c1 = _mm256_broadcast_ss(coef + e + 1);
        const float* r0 = table + uint64_t{cols[e]} * k + p0;
        const float* r1 = table + uint64_t{cols[e + 1]} * k + p0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          a[t] = _mm256_fmadd_ps(c0, _mm256_loadu_ps(r0 + 8 * t), a[t]);
          b[t] = _mm256_fmadd_ps(c1, _mm256_loadu_ps(r1 + 8 * t), b[t]);
        }
      }
      if (e < n) {
        const __m256 c0 = _mm256_broadcast_ss(coef + e);
        const float* r0 = table + uint64_t{cols[e]} * k + p0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) a[t] = _mm256_fmadd_ps(c0, _mm256_loadu_ps(r0 + 8 * t), a[t]);
      }
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) _mm256_storeu_ps(y + p0 + 8 * t, _mm256_add_ps(a[t], b[t]));
    }
    for (; p0 + 8 <= k; p0 += 8) {
      __m256 a = _mm256_loadu_ps(y + p0), b = _mm256_setzero_ps();
      uint64_t e = 0;
      for (; e + 2 <= n; e += 2) {
        a = _mm256_fmadd_ps(_mm256_broadcast_ss(coef + e),
                            _mm256_loadu_ps(table + uint64_t{cols[e]} * k + p0), a);
        b = _mm256_fmadd_ps(_mm256_broadcast_ss(coef + e + 1),
                            _mm256_loadu_ps(table + uint64_t{cols[e + 1]} * k + p0), b);
      }
      if (e < n) {
        a = _mm256_fmadd_ps(_mm256_broadcast_ss(coef + e),
                            _mm256_loadu_ps(table + uint64_t{cols[e]} * k + p0), a);
      }
      _mm256_storeu_ps(y + p0, _mm256_add_ps(a, b));
    }
    for (; p0 < k; ++p0) {
      float acc = y[p0];
      for (uint64_t e = 0; e < n; ++e) {
        acc = __builtin_fmaf(coef[e], table[uint64_t{cols[e]} * k + p0], acc);
      }
      y[p0] = acc;
    }
  }
};
#undef ENCORE_VEC_AVX2

// AVX-512 (F, VL) + FMA: 16-float vectors, masked tails. Chosen at run
// time only where the CPU has it (Avx512KernelsEnabled); on cores with full
// 512-bit units (AMD Zen 5, Intel server cores) each instruction does twice
// the AVX2 work.
#define ENCORE_VEC_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

struct Avx512 {
  ENCORE_VEC_AVX512 static inline __mmask16 Tail(uint32_t rem) {
    return static_cast<__mmask16>((1u << rem) - 1u);
  }

  ENCORE_VEC_AVX512 static inline float Dot(const float* a, const float* b, uint32_t k) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    uint32_t p = 0;
    for (; p + 64 <= k; p += 64) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 16), _mm512_loadu_ps(b + p + 16), s1);
      s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 32), _mm512_loadu_ps(b + p + 32), s2);
      s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 48), _mm512_loadu_ps(b + p + 48), s3);
    }
    for (; p + 16 <= k; p += 16) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), s0);
    }
    if (p < k) {
      const __mmask16 m = Tail(k - p);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + p), _mm512_maskz_loadu_ps(m, b + p), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  }

  ENCORE_VEC_AVX512 static inline void Axpy(float alpha, const float* x, float* y, uint32_t k) {
    const __m512 a = _mm512_set1_ps(alpha);
    uint32_t p = 0;
    for (; p + 16 <= k; p += 16) {
      _mm512_storeu_ps(y + p, _mm512_fmadd_ps(a, _mm512_loadu_ps(x + p), _mm512_loadu_ps(y + p)));
    }
    if (p < k) {
      const __mmask16 m = Tail(k - p);
      _mm512_mask_storeu_ps(
          y + p, m,
          _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m, x + p), _mm512_maskz_loadu_ps(m, y + p)));
    }
  }

  ENCORE_VEC_AVX512 static inline void Xpby(const float* x, float beta, float* y, uint32_t k) {
    const __m512 b = _mm512_set1_ps(beta);
    uint32_t p = 0;
    for (; p + 16 <= k; p += 16) {
      _mm512_storeu_ps(y + p, _mm512_fmadd_ps(b, _mm512_loadu_ps(y + p), _mm512_loadu_ps(x + p)));
    }
    if (p < k) {
      const __mmask16 m = Tail(k - p);
      _mm512_mask_storeu_ps(
          y + p, m,
          _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(m, y + p), _mm512_maskz_loadu_ps(m, x + p)));
    }
  }

  // out = G v, G symmetric k x k row-major: 64 outputs at a time in two sets
  // of four accumulators (even and odd j), so each FMA chain is k/2 long.
  ENCORE_VEC_AVX512 static void SymMatVec(const float* g, const float* v, float* out, uint32_t k) {
    uint32_t i0 = 0;
    for (; i0 + 64 <= k; i0 += 64) {
      __m512 a[4], b[4];
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) a[t] = b[t] = _mm512_setzero_ps();
      uint32_t j = 0;
      for (; j + 2 <= k; j += 2) {
        const __m512 v0 = _mm512_set1_ps(v[j]), v1 = _mm512_set1_ps(v[j + 1]);
        const float* r0 = g + uint64_t{j} * k + i0;
        const float* r1 = r0 + k;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          a[t] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(r0 + 16 * t), a[t]);
          b[t] = _mm512_fmadd_ps(v1, _mm512_loadu_ps(r1 + 16 * t), b[t]);
        }
      }
      if (j < k) {
        const __m512 v0 = _mm512_set1_ps(v[j]);
        const float* r0 = g + uint64_t{j} * k + i0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) a[t] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(r0 + 16 * t), a[t]);
      }
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) _mm512_storeu_ps(out + i0 + 16 * t, _mm512_add_ps(a[t], b[t]));
    }
    for (; i0 < k; i0 += 16) {
      const __mmask16 m = k - i0 >= 16 ? static_cast<__mmask16>(0xffff) : Tail(k - i0);
      __m512 a = _mm512_setzero_ps(), b = a;
      uint32_t j = 0;
      for (; j + 2 <= k; j += 2) {
        a = _mm512_fmadd_ps(_mm512_set1_ps(v[j]),
                            _mm512_maskz_loadu_ps(m, g + uint64_t{j} * k + i0), a);
        b = _mm512_fmadd_ps(_mm512_set1_ps(v[j + 1]),
                            _mm512_maskz_loadu_ps(m, g + uint64_t{j + 1} * k + i0), b);
      }
      if (j < k) {
        a = _mm512_fmadd_ps(_mm512_set1_ps(v[j]),
                            _mm512_maskz_loadu_ps(m, g + uint64_t{j} * k + i0), a);
      }
      _mm512_mask_storeu_ps(out + i0, m, _mm512_add_ps(a, b));
    }
  }

  // out[e] = rows[cols[e]] . v; for k = 16 NV (NV <= 8) v stays in registers,
  // two accumulators per row over alternate 16-float blocks.
  template <int NV>
  ENCORE_VEC_AVX512 static void GatherDotN(const float* table, const uint32_t* cols, uint64_t n,
                                           const float* v, float* out, bool prefetch) {
    constexpr uint32_t k = 16 * NV;
    __m512 w[NV];
#pragma GCC unroll 8
    for (int t = 0; t < NV; ++t) w[t] = _mm512_loadu_ps(v + 16 * t);
    for (uint64_t e = 0; e < n; ++e) {
      if (prefetch && e + kGatherPrefetchAhead < n) {
        PrefetchRow(table + uint64_t{cols[e + kGatherPrefetchAhead]} * k, k);
      }
      const float* row = table + uint64_t{cols[e]} * k;
      __m512 a = _mm512_mul_ps(_mm512_loadu_ps(row), w[0]);
      __m512 b = _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int t = 1; t < NV; ++t) {
        if (t % 2 == 1) {
          b = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * t), w[t], b);
        } else {
          a = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * t), w[t], a);
        }
      }
      out[e] = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
    }
  }

  ENCORE_VEC_AVX512 static void GatherDot(const float* table, const uint32_t* cols, uint64_t n,
                                          const float* v, float* out, uint32_t k, bool prefetch) {
    switch (k) {
      case 16: return GatherDotN<1>(table, cols, n, v, out, prefetch);
      case 32: return GatherDotN<2>(table, cols, n, v, out, prefetch);
      case 48: return GatherDotN<3>(table, cols, n, v, out, prefetch);
      case 64: return GatherDotN<4>(table, cols, n, v, out, prefetch);
      case 96: return GatherDotN<6>(table, cols, n, v, out, prefetch);
      case 128: return GatherDotN<8>(table, cols, n, v, out, prefetch);
      default:
        for (uint64_t e = 0; e < n; ++e) {
          if (prefetch && e + kGatherPrefetchAhead < n) {
            PrefetchRow(table + uint64_t{cols[e + kGatherPrefetchAhead]} * k, k);
          }
          out[e] = Dot(table + uint64_t{cols[e]} * k, v, k);
        }
    }
  }

  // y += sum_e coef[e] * rows[cols[e]]: y in registers 64 floats at a time,
  // even and odd rows into two sets of accumulators (summed at the end).
  ENCORE_VEC_AVX512 static void GatherAxpy(const float* table, const uint32_t* cols, uint64_t n,
                                           const float* coef, float* y, uint32_t k) {
    uint32_t p0 = 0;
    for (; p0 + 64 <= k; p0 += 64) {
      __m512 a[4], b[4];
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        a[t] = _mm512_loadu_ps(y + p0 + 16 * t);
        b[t] = _mm512_setzero_ps();
      }
      uint64_t e = 0;
      for (; e + 2 <= n; e += 2) {
        const __m512 c0 = _mm512_set1_ps(coef[e]), c1 = _mm512_set1_ps(coef[e + 1]);
        const float* r0 = table + uint64_t{cols[e]} * k + p0;
        const float* r1 = table + uint64_t{cols[e + 1]} * k + p0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          a[t] = _mm512_fmadd_ps(c0, _mm512_loadu_ps(r0 + 16 * t), a[t]);
          b[t] = _mm512_fmadd_ps(c1, _mm512_loadu_ps(r1 + 16 * t), b[t]);
        }
      }
      if (e < n) {
        const __m512 c0 = _mm512_set1_ps(coef[e]);
        const float* r0 = table + uint64_t{cols[e]} * k + p0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) a[t] = _mm512_fmadd_ps(c0, _mm512_loadu_ps(r0 + 16 * t), a[t]);
      }
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) _mm512_storeu_ps(y + p0 + 16 * t, _mm512_add_ps(a[t], b[t]));
    }
    for (; p0 < k; p0 += 16) {
      const __mmask16 m = k - p0 >= 16 ? static_cast<__mmask16>(0xffff) : Tail(k - p0);
      __m512 a = _mm512_maskz_loadu_ps(m, y + p0), b = _mm512_setzero_ps();
      uint64_t e = 0;
      for (; e + 2 <= n; e += 2) {
        a = _mm512_fmadd_ps(_mm512_set1_ps(coef[e]),
                            _mm512_maskz_loadu_ps(m, table + uint64_t{cols[e]} * k + p0), a);
        b = _mm512_fmadd_ps(_mm512_set1_ps(coef[e + 1]),
                            _mm512_maskz_loadu_ps(m, table + uint64_t{cols[e + 1]} * k + p0), b);
      }
      if (e < n) {
        a = _mm512_fmadd_ps(_mm512_set1_ps(coef[e]),
                            _mm512_maskz_loadu_ps(m, table + uint64_t{cols[e]} * k + p0), a);
      }
      _mm512_mask_storeu_ps(y + p0, m, _mm512_add_ps(a, b));
    }
  }
};
#undef ENCORE_VEC_AVX512
#endif  // __x86_64__

}  // namespace encore::model::vec

#endif  // ENCORE_MODEL_VEC_KERNELS_H_
