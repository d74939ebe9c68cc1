// One persistent pool of compute threads for the kernels. The linear layers split their rows
// statically into one contiguous range per thread (each output is computed whole by one thread, so
// the result does not depend on the thread count). The hot path allocates nothing: a call
// publishes a function pointer and wakes the workers through an atomic epoch; workers spin briefly,
// then sleep on the atomic (a futex), so an idle server costs no CPU.
#pragma once

#include <cstdint>

namespace dsv4 {

// Sets the number of compute threads (>= 1; 1 = the calling thread only, the default). Not to be
// called while a parallel_run is in progress.
void set_compute_threads(int n);
int compute_threads();

// Runs fn(ctx, t, T) for t = 0..T-1, T = compute_threads(), the caller taking t = 0; returns when
// all are done. Called from inside a task, or while another thread holds the pool, it runs
// fn(ctx, 0, 1) on the calling thread.
void parallel_run(void (*fn)(void* ctx, int t, int T), void* ctx);

template <class F>
void parallel_run(F& f) {
  parallel_run([](void* c, int t, int T) { (*static_cast<F*>(c))(t, T); }, &f);
}

}  // namespace dsv4
