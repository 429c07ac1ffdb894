// Tests of profiles/progress: the counts Progress hands its callback (phases, plan, finish, several
// threads), cancellation by a throwing callback, and the line printer's rate rule with an injected
// clock (no real time is measured).
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dse/exhaustive.hpp"
#include "placement_test_util.hpp"
#include "profiles/progress.hpp"

using namespace exitplan;

namespace {

struct Recorder {
  std::vector<ProgressUpdate> seen;
  ProgressCallback Callback() {
    return [this](const ProgressUpdate& u) { seen.push_back(u); };
  }
};

// A printer on a fake clock; the lines it writes are collected.
struct FakePrinter {
  double now = 100.0;
  std::vector<std::string> out;
  ProgressPrinter printer;
  explicit FakePrinter(bool terminal)
      : printer(
            [&] {
              ProgressPrinterOptions o;
              o.command = "exitplan test";
              o.terminal = terminal;
              return o;
            }(),
            [this](const std::string& s) { out.push_back(s); }, [this] { return now; }) {}
  // `call_total`: the whole call's items (default: this phase is the whole call).
  void Send(const std::string& phase, std::uint64_t done, std::uint64_t total, double at,
            bool finished = false, std::uint64_t call_total = 0, std::uint64_t before = 0) {
    now = at;
    ProgressUpdate u;
    u.phase = phase;
    u.unit = "items";
    u.phase_done = done;
    u.phase_total = total;
    u.total = call_total ? call_total : total;
    u.done = finished ? u.total : before + done;
    u.finished = finished;
    printer(u);
  }
};

}  // namespace

TEST_CASE("Progress counts phases against the planned total and finishes at the total") {
  Recorder r;
  Progress p(r.Callback());
  p.Plan(10);
  p.Phase("a", "subsets", 4);
  p.Advance();
  p.Advance(2, "x");
  p.Phase("b", "budgets", 6);  // phase a ended after 3 of 4: it counts as done
  p.Advance();
  p.Finish();
  REQUIRE(r.seen.size() == 6);
  CHECK(r.seen[0].phase == "a");
  CHECK(r.seen[0].done == 0);
  CHECK(r.seen[0].total == 10);
  CHECK(r.seen[2].phase_done == 3);
  CHECK(r.seen[2].done == 3);
  CHECK(r.seen[2].detail == "x");
  CHECK(r.seen[3].phase == "b");
  CHECK(r.seen[3].phase_done == 0);
  CHECK(r.seen[3].done == 4);
  CHECK(r.seen[4].done == 5);
  CHECK(r.seen[4].phase_done == 1);
  CHECK(r.seen[5].finished);
  CHECK(r.seen[5].done == 10);
  CHECK(r.seen[5].total == 10);
  // Without a plan, the total is the sum of the phases begun so far.
  Recorder r2;
  Progress q(r2.Callback());
  q.Phase("only", "cells", 3);
  q.Advance(5);  // more than the phase holds: clamped
  CHECK(r2.seen.back().phase_done == 3);
  CHECK(r2.seen.back().done == 3);
  CHECK(r2.seen.back().total == 3);
}

TEST_CASE("Progress from several threads: every item counted, counts never fall") {
  Recorder r;
  Progress p(r.Callback());
  p.Phase("work", "items", 4000);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&p] {
      for (int i = 0; i < 1000; ++i) p.Advance();
    });
  }
  for (auto& t : pool) t.join();
  REQUIRE(r.seen.size() == 4001);
  for (std::size_t i = 1; i < r.seen.size(); ++i) CHECK(r.seen[i].done == r.seen[i - 1].done + 1);
  CHECK(r.seen.back().done == 4000);
}

TEST_CASE("A throwing callback cancels: no further calls, Rethrow gives its exception") {
  int calls = 0;
  Progress p([&calls](const ProgressUpdate& u) {
    ++calls;
    if (u.done == 2) throw std::runtime_error("stop");
  });
  p.Phase("w", "items", 5);
  CHECK_FALSE(p.cancelled());
  CHECK_NOTHROW(p.Rethrow());
  p.Advance();
  p.Advance();
  CHECK(p.cancelled());
  p.Advance();
  p.Finish();
  CHECK(calls == 3);  // (0), (1), (2) which threw
  CHECK_THROWS_WITH(p.Rethrow(), "stop");
  Progress none;  // no callback: never cancelled
  none.Advance();
  CHECK_FALSE(none.cancelled());
}

TEST_CASE("A cancelled exhaustive search stops early and rethrows") {
  const auto sp = exitplan::testing::MakeSmallProblem(6, 200, 3);
  const PlacementProblem problem = sp.problem();
  int calls = 0;
  Progress p([&calls](const ProgressUpdate& u) {
    ++calls;
    if (u.done >= 3) throw std::runtime_error("enough");
  });
  ExhaustiveOptions o;
  o.budgets = {problem.profile->FullCost() * 0.5};
  o.threads = 2;
  o.progress = &p;
  CHECK_THROWS_WITH(Exhaustive(problem, o, SolverFor(Method::kSingle, {})), "enough");
  CHECK(calls == 4);  // (0) .. (3)
  // The same search without a callback counts every subset (2^5).
  Recorder r;
  Progress q(r.Callback());
  o.progress = &q;
  const ExhaustiveSummary s = Exhaustive(problem, o, SolverFor(Method::kSingle, {}));
  CHECK(s.subsets == 32);
  CHECK(r.seen.back().phase == "exhaustive");
  CHECK(r.seen.back().done == 32);
}

TEST_CASE("Printer off a terminal: nothing within 2 s, then per 10% or per 5 s, and a last line") {
  SECTION("work that ends within 2 s prints nothing") {
    FakePrinter f(false);
    for (int i = 0; i <= 100; ++i) f.Send("p", i, 100, 100.0 + i * 0.019);
    f.Send("p", 100, 100, 101.95, true);
    CHECK(f.out.empty());
  }
  SECTION("fast items: one line per 10% of the work") {
    FakePrinter f(false);
    // 1000 items over 10 s: 10 ms each.
    for (int i = 0; i <= 1000; ++i) f.Send("p", i, 1000, 100.0 + i * 0.01);
    f.Send("p", 1000, 1000, 110.0, true);
    // First line at 2 s (item 200), then items 300, 400, ..., 900 (10% each), not the 100%
    // update (the last line says done).
    REQUIRE(f.out.size() == 9);
    CHECK(f.out[0] == "exitplan test: p: 200/1000 items (20%), 2.0 s elapsed, ~8.0 s left\n");
    CHECK(f.out[1].rfind("exitplan test: p: 300/1000 items (30%), 3.0 s elapsed", 0) == 0);
    CHECK(f.out[7].rfind("exitplan test: p: 900/1000 items (90%)", 0) == 0);
    CHECK(f.out[8] == "exitplan test: p: 1000/1000 items (100%), 10.0 s elapsed, done\n");
  }
  SECTION("slow items: one line per 5 s") {
    FakePrinter f(false);
    // 1000 items over 100 s: 10% every 10 s, so the 5 s rule decides.
    for (int i = 0; i <= 1000; ++i) f.Send("p", i, 1000, 100.0 + i * 0.1);
    // Lines at 2 s (item 20), then each 5 s: 7, 12, ..., 97 s; the 10% rule never comes first.
    REQUIRE(f.out.size() == 20);
    CHECK(f.out[0].rfind("exitplan test: p: 20/1000 items (2%), 2.0 s elapsed", 0) == 0);
    CHECK(f.out[1].rfind("exitplan test: p: 70/1000 items (7%), 7.0 s elapsed", 0) == 0);
  }
  SECTION("a new phase starts its own 10% steps and estimate") {
    FakePrinter f(false);
    f.Send("a", 0, 10, 100.0, false, 14);
    f.Send("a", 10, 10, 103.0, false, 14);  // 100% of phase a, not of the call: printed
    f.Send("b", 0, 4, 103.0, false, 14, 10);
    f.Send("b", 1, 4, 104.0, false, 14, 10);  // 25% of b
    REQUIRE(f.out.size() == 2);
    CHECK(f.out[0].rfind("exitplan test: a: 10/10 items (100%), 3.0 s elapsed", 0) == 0);
    CHECK(f.out[1] == "exitplan test: b: 1/4 items (25%), 4.0 s elapsed, ~3.0 s left\n");
  }
}

TEST_CASE("Printer on a terminal: one line refreshed in place, erased at the end") {
  FakePrinter f(true);
  f.Send("p", 0, 10, 100.0);  // the phase begins
  f.Send("p", 1, 10, 101.0);  // within 2 s: nothing
  f.Send("p", 3, 10, 102.5);
  f.Send("p", 4, 10, 102.6);  // within the 0.2 s refresh: skipped
  f.Send("p", 5, 10, 103.0);
  f.Send("p", 10, 10, 104.0, true);
  REQUIRE(f.out.size() == 3);
  CHECK(f.out[0] == "\rexitplan test: p: 3/10 items (30%), 2.5 s elapsed, ~5.8 s left");
  CHECK(f.out[1].rfind("\rexitplan test: p: 5/10 items (50%), 3.0 s elapsed", 0) == 0);
  CHECK(f.out[2] == "\r" + std::string(f.out[0].size() - 1, ' ') + "\r");
}

TEST_CASE("Printer on a terminal erases its line when the work ends by an exception") {
  ProgressPrinterOptions o;
  o.command = "exitplan test";
  o.terminal = true;
  double now = 0;
  std::vector<std::string> seen;
  {
    ProgressPrinter p(
        o, [&seen](const std::string& s) { seen.push_back(s); }, [&now] { return now; });
    ProgressUpdate u;
    u.phase = u.unit = "cells";
    u.phase_total = u.total = 10;
    u.phase_done = u.done = 1;
    now = 3;
    p(u);
  }
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].rfind("\rexitplan test: 1/10 cells (10%)", 0) == 0);
  CHECK(seen[1] == "\r" + std::string(seen[0].size() - 1, ' ') + "\r");  // erased
}

TEST_CASE("Printer on a narrow terminal cuts the line to its width") {
  ProgressPrinterOptions o;
  o.command = "exitplan test";
  o.terminal = true;
  o.columns = 20;
  double now = 0;
  std::vector<std::string> out;
  ProgressPrinter p(
      o, [&out](const std::string& s) { out.push_back(s); }, [&now] { return now; });
  ProgressUpdate u;
  u.phase = u.unit = "cells";
  u.phase_total = u.total = 10;
  u.phase_done = u.done = 1;
  now = 3;
  p(u);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == "\rexitplan test: 1/10");  // 19 characters after the carriage return
}

TEST_CASE("Printer lines: detail, early-stopping phases and later phases") {
  ProgressUpdate u;
  u.phase = "training";
  u.unit = "epochs";
  u.phase_done = 3;
  u.phase_total = 1000;
  u.done = 3;
  u.total = 1000;
  u.detail = "loss 0.41";
  u.may_end_early = true;  // no percentage, no estimate: early stopping may end it any time
  CHECK(ProgressPrinter::Line("exitplan fit-scorer", u, 12.0, 12.0) ==
        "exitplan fit-scorer: training: 3/1000 epochs, loss 0.41, 12.0 s elapsed");
  u.phase = "cells";
  u.unit = "cells";
  u.may_end_early = false;
  u.phase_total = 10;
  u.total = 20;  // another phase follows
  u.detail = "0 failed";
  CHECK(ProgressPrinter::Line("exitplan sweep", u, 150.0, 6.0) ==
        "exitplan sweep: 3/10 cells (30%), 0 failed, 150 s elapsed, ~14.0 s left in this phase");
}
