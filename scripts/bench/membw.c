// Memory read bandwidth the way the weight kernels read: T threads each sum their part of one buffer with AVX-512
// loads; prints GB/s (median of 41 passes). Written here because sysbench's `memory --memory-oper=read` uses a scalar
// load loop and reports about half of this (6.6 / 15.5 GiB/s at 1 / 2 threads on the benchmark machine), which
// would understate the floor the engine is measured against (docs/BENCHMARKS.md §0a).
// Build and run: gcc -O2 -mavx512f -pthread scripts/bench/membw.c -o /tmp/membw && /tmp/membw 170 2   (MiB, threads)
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static float *buf;
static size_t n;
static long threads;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *sum_part(void *arg) {
  long id = (long)arg;
  size_t lo = n * id / threads / 16 * 16, hi = n * (id + 1) / threads / 16 * 16;
  __m512 s = _mm512_setzero_ps();
  for (size_t i = lo; i < hi; i += 16) s = _mm512_add_ps(s, _mm512_load_ps(buf + i));
  return (void *)(long)(_mm512_reduce_add_ps(s) < 0);  // keeps the loop from being optimised away
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: membw MIB THREADS\n"); return 2; }
  size_t mib = strtoul(argv[1], 0, 10);
  threads = strtol(argv[2], 0, 10);
  if (mib < 1 || threads < 1 || threads > 64) { fprintf(stderr, "membw: MIB >= 1, THREADS 1..64\n"); return 2; }
  n = mib * 1024 * 1024 / sizeof(float);
  buf = aligned_alloc(64, n * sizeof(float));
  if (!buf) { fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib); return 1; }
  for (size_t i = 0; i < n; i++) buf[i] = 1.0f;
  enum { PASSES = 41 };
  double t[PASSES];
  pthread_t th[64];
  for (int p = 0; p < PASSES; p++) {
    double t0 = now();
    for (long i = 0; i < threads; i++) pthread_create(&th[i], 0, sum_part, (void *)i);
    for (long i = 0; i < threads; i++) pthread_join(th[i], 0);
    t[p] = now() - t0;
  }
  qsort(t, PASSES, sizeof t[0], cmp);
  printf("%zu MiB, %ld threads: %.1f GB/s (median of %d passes)\n", mib, threads, mib * 1048576.0 / t[PASSES / 2] / 1e9,
         PASSES);
  free(buf);
  return 0;
}
