/*
 * Preloaded by scripts/translation-trainer (and the Docker image) on x86-64.
 *
 * libtorch's float32 matrix multiplies go through the Intel MKL it links. MKL chooses its AVX2/AVX-512
 * kernels only on CPUs it believes are Intel's; on AMD it runs generic ones. libtorch exports MKL's
 * vendor check, so this answer replaces it and MKL dispatches on the CPU's actual features instead.
 * Figures in docs/performance.md, "MKL's fast kernels on AMD CPUs". On Intel CPUs the answer is the same as MKL's own.
 * Set TT_NO_MKL_INTEL_PATH=1 to run without it.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
