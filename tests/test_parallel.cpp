// Tests of profiles/parallel (ParallelFor, the one thread pool): every item runs once, the first
// exception of a worker reaches the caller after every thread is joined, remaining work stops
// early, jobs = 1 runs inline in order. Depends on profiles/parallel.cpp alone, so it also builds
// by hand under ThreadSanitizer. (test_exhaustive: a search's worker error reaches its caller.)
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "profiles/error.hpp"
#include "profiles/parallel.hpp"

using namespace exitplan;

TEST_CASE("ResolveJobs and ParallelThreads") {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  CHECK(ResolveJobs(0) == cores);
  CHECK(ResolveJobs(-3) == cores);
  CHECK(ResolveJobs(5) == 5);
  CHECK(ParallelThreads(3, 8) == 3);
  CHECK(ParallelThreads(100, 8) == 8);
  CHECK(ParallelThreads(0, 8) == 1);
  CHECK(ParallelThreads(1, 0) == 1);
  CHECK(ParallelThreads(1000, 0) == std::min(cores, 1000));
}

TEST_CASE("ParallelFor runs every item exactly once, worker ids in range") {
  for (int jobs : {1, 2, 3, 8}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
      INFO("jobs " << jobs << ", n " << n);
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> bad_id{0};
      const int threads = ParallelThreads(n, jobs);
      const bool all = ParallelFor(n, jobs, [&](std::size_t i, int w) {
        ++hits[i];
        if (w < 0 || w >= threads) ++bad_id;
      });
      CHECK(all);
      CHECK(bad_id == 0);
      int wrong = 0;
      for (std::size_t i = 0; i < n; ++i) wrong += hits[i] != 1;
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("ParallelFor results by index do not depend on the thread count") {
  auto run = [](int jobs) {
    std::vector<double> out(5000);
    ParallelFor(out.size(), jobs, [&](std::size_t i) { out[i] = 1.0 / (1.0 + i) + i % 7; });
    return out;
  };
  const std::vector<double> one = run(1);
  CHECK(one[0] == 1.0);
  CHECK(one[6] == 1.0 / 7 + 6);
  CHECK(run(2) == one);
  CHECK(run(5) == one);
}

TEST_CASE("ParallelFor with jobs = 1 (or one item) runs inline, in order, on the caller") {
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::size_t> order;
  bool other_thread = false;
  ParallelFor(50, 1, [&](std::size_t i) {
    order.push_back(i);  // no lock: inline means one thread
    other_thread = other_thread || std::this_thread::get_id() != caller;
  });
  CHECK_FALSE(other_thread);
  REQUIRE(order.size() == 50);
  for (std::size_t i = 0; i < order.size(); ++i) CHECK(order[i] == i);
  bool ran_here = false;
  ParallelFor(
      1, 8, [&](std::size_t, int w) { ran_here = std::this_thread::get_id() == caller && w == 0; });
  CHECK(ran_here);
}

TEST_CASE("ParallelFor rethrows the first worker exception after joining every thread") {
  for (int jobs : {1, 2, 4}) {
    INFO("jobs " << jobs);
    std::atomic<int> running{0}, started{0};
    std::atomic<bool> overlap_after{false};
    try {
      ParallelFor(200, jobs, [&](std::size_t i) {
        ++running;
        ++started;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --running;
        if (i == 37) throw InputError("cells/x.csv", "cannot write: No space left on device");
      });
      FAIL("no exception");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()) == "cells/x.csv: cannot write: No space left on device");
    }
    // Joined: nothing is still running once the exception is out.
    CHECK(running == 0);
    CHECK(started >= 38);
    CHECK(started < 200);
    if (jobs == 1) CHECK(started == 38);  // inline: stops at once
  }
}

TEST_CASE("ParallelFor keeps only the first of several exceptions, of any type") {
  // Every item throws: exactly one exception comes out, and it is one of the thrown ones.
  try {
    ParallelFor(64, 4, [&](std::size_t i) { throw static_cast<int>(i); });
    FAIL("no exception");
  } catch (int i) {
    CHECK(i >= 0);
    CHECK(i < 64);
  }
  CHECK_THROWS_AS(ParallelFor(10, 3, [](std::size_t) { throw std::bad_alloc(); }), std::bad_alloc);
}

TEST_CASE("ParallelFor stops handing out items after an error") {
  // 100,000 items of ~50 us each would take seconds; an error at item 3 stops after a few.
  std::atomic<int> started{0};
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(ParallelFor(100000, 2,
                              [&](std::size_t i) {
                                ++started;
                                if (i == 3) throw std::runtime_error("stop");
                                std::this_thread::sleep_for(std::chrono::microseconds(50));
                              }),
                  std::runtime_error);
  INFO("started " << started << " in "
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                  << " s");
  CHECK(started < 1000);
}

TEST_CASE("ParallelFor: a body returning false stops early without an error") {
  std::atomic<int> started{0};
  CHECK_FALSE(ParallelFor(1000, 1, [&](std::size_t i) {
    ++started;
    return i != 10;
  }));
  CHECK(started == 11);
  started = 0;
  CHECK_FALSE(ParallelFor(100000, 3, [&](std::size_t i) {
    ++started;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    return i != 5;
  }));
  CHECK(started < 2000);
  CHECK(ParallelFor(100, 3, [](std::size_t) { return true; }));
}
