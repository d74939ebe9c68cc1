#include "kernels/isa.h"

#include <cpuid.h>

#include <cstdlib>
#include <string>

namespace dsv4 {

namespace {
// CPUID.1:ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c").
bool has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
}  // namespace

Isa cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && has_f16c())
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c())
    return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  static const Isa isa = [] {
    Isa best = cpu_isa();
    const char* env = std::getenv("DSV4_ISA");
    if (!env) return best;
    const std::string want(env);
    Isa asked = want == "scalar" ? Isa::Scalar : want == "avx2" ? Isa::Avx2 : best;
    return static_cast<int>(asked) < static_cast<int>(best) ? asked : best;
  }();
  return isa;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

}  // namespace dsv4
