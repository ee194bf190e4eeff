// KMOE_SIMD_LOOP before a host loop whose iterations are independent asks the compiler to
// vectorise it (OpenMP's simd directive; the build passes -fopenmp-simd, so no OpenMP runtime is
// implied). GCC's cost model left the side-by-side Philox rounds scalar without it, at a third
// of the speed. Device code compiles the loop as written.
#pragma once

#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define KMOE_SIMD_LOOP
#else
#define KMOE_SIMD_LOOP _Pragma("omp simd")
#endif
