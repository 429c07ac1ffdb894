// The one thread pool of exitplan: ParallelFor runs n independent work items on a few threads.
//
// - Dynamic scheduling: each thread takes the next unstarted item (an atomic counter), so items of
//   very different cost balance themselves. Results must be stored by item index (never by
//   completion order) for the output not to depend on the thread count.
// - Errors: the first exception thrown by any item is captured, no further item is started (items
//   already running finish), every thread is joined, and the exception is rethrown in the caller,
//   so a worker's error reaches the command's one catch site like any other (never std::terminate).
// - A body may also return false to stop handing out items without an error (ParallelFor then
//   returns false).
// - jobs = 1, or n = 1, runs every item inline on the calling thread (no thread is started).
//
// Written by hand because none of the listed libraries has a pool: OpenMP cannot carry an
// exception out of a parallel region, and std::for_each(std::execution::par) needs TBB and calls
// std::terminate on an exception.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>

namespace exitplan {

// The threads for `jobs`: jobs itself when positive, else (0 = all cores) the hardware threads of
// this machine; at least 1.
int ResolveJobs(int jobs);

// The threads ParallelFor(n, jobs, ...) uses: ResolveJobs(jobs), capped at n, at least 1. Worker
// ids passed to a body are 0 .. ParallelThreads(n, jobs) - 1 (to size per-thread state).
int ParallelThreads(std::size_t n, int jobs);

namespace detail {
bool ParallelForImpl(std::size_t n, int jobs, const std::function<bool(std::size_t, int)>& body);
}  // namespace detail

// Runs body for every item in [0, n) (each exactly once unless stopped) on ParallelThreads(n,
// jobs) threads, the caller being worker 0. body is called as body(item, worker) or body(item),
// and returns void or bool (false = stop early). Returns true when every item ran and none
// returned false; rethrows the first exception of any item after all threads are joined.
template <class Body>
bool ParallelFor(std::size_t n, int jobs, Body&& body) {
  if constexpr (std::is_invocable_v<Body&, std::size_t, int>) {
    using R = std::invoke_result_t<Body&, std::size_t, int>;
    return detail::ParallelForImpl(n, jobs, [&](std::size_t i, int w) -> bool {
      if constexpr (std::is_void_v<R>) {
        body(i, w);
        return true;
      } else {
        return static_cast<bool>(body(i, w));
      }
    });
  } else {
    static_assert(std::is_invocable_v<Body&, std::size_t>,
                  "ParallelFor: body(item) or body(item, worker)");
    using R = std::invoke_result_t<Body&, std::size_t>;
    return detail::ParallelForImpl(n, jobs, [&](std::size_t i, int) -> bool {
      if constexpr (std::is_void_v<R>) {
        body(i);
        return true;
      } else {
        return static_cast<bool>(body(i));
      }
    });
  }
}

}  // namespace exitplan
