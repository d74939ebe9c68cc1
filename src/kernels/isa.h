// Which instruction set the fast kernels use: the best the CPU has, or what DSV4_ISA asks for
// (scalar | avx2 | avx512; capped at what the CPU supports). "scalar" runs the reference kernels
// of linear.cpp, which every fast kernel is tested against (tests/test_kernels.cpp).
#pragma once

#include <string_view>

namespace dsv4 {

enum class Isa { Scalar, Avx2, Avx512 };

Isa cpu_isa();     // the best the CPU supports
Isa active_isa();  // cpu_isa() unless DSV4_ISA lowers it (read once)
std::string_view isa_name(Isa isa);

}  // namespace dsv4
