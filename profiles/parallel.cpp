#include "profiles/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace exitplan {

int ResolveJobs(int jobs) {
  if (jobs > 0) return jobs;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int ParallelThreads(std::size_t n, int jobs) {
  return static_cast<int>(std::max<std::size_t>(
      1, std::min<std::size_t>(static_cast<std::size_t>(ResolveJobs(jobs)), n)));
}

namespace detail {

bool ParallelForImpl(std::size_t n, int jobs, const std::function<bool(std::size_t, int)>& body) {
  if (n == 0) return true;
  const int threads = ParallelThreads(n, jobs);
  if (threads == 1) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!body(i, 0)) return false;
    }
    return true;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false}, declined{false};
  std::mutex mu;
  std::exception_ptr error;
  auto worker = [&](int id) noexcept {
    while (!stop.load(std::memory_order_acquire)) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        if (!body(i, id)) {
          declined = true;
          stop.store(true, std::memory_order_release);
        }
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = std::current_exception();
        }
        stop.store(true, std::memory_order_release);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads - 1));
  for (int id = 1; id < threads; ++id) {
    try {
      pool.emplace_back(worker, id);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running (and the caller) do all the items
    }
  }
  worker(0);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return !declined;
}

}  // namespace detail
}  // namespace exitplan
