// Progress of long work (sweeps, placement searches, scorer training, multi-budget solves),
// reported through one small interface that every library entry point takes, and the one line
// printer the command line uses.
//
// The work side holds a Progress and calls Phase() when a phase begins and Advance() per finished
// work item (any thread: calls are serialised, counts only grow). The listener is a
// ProgressCallback; an exception it throws cancels the work: Progress stores it, cancelled()
// turns true (workers stop taking items), and Rethrow(), called by the entry point on its own
// thread after the workers joined, rethrows it there.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

namespace exitplan {

struct ProgressUpdate {
  std::string phase;  // what runs now: "cells", "exhaustive", "training", ...
  std::string unit;   // what the phase counts: "cells", "subsets", "epochs", ...
  std::uint64_t phase_done = 0, phase_total = 0;  // items of this phase (total 0: unknown)
  std::uint64_t done = 0, total = 0;  // items of the whole call, over every phase; done <= total
  std::string detail;                 // figures of the latest item: "2 failed", "loss 0.4123"
  bool may_end_early = false;         // the phase can stop before phase_total (early stopping)
  bool finished = false;              // the last update of the call (done == total)
};

// May throw to cancel the work; called under Progress's lock, one call at a time.
using ProgressCallback = std::function<void(const ProgressUpdate&)>;

class Progress {
 public:
  Progress() = default;  // reports nothing, never cancelled
  explicit Progress(ProgressCallback callback) : callback_(std::move(callback)) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The whole call's amount of work, over every phase. Without it, the total is the sum of the
  // phases begun so far.
  void Plan(std::uint64_t total);
  // A new phase of `items` items counted in `unit` (an update with phase_done = 0 is sent).
  void Phase(const std::string& name, const std::string& unit, std::uint64_t items,
             bool may_end_early = false);
  // `items` more items of the current phase finished; `detail` describes the latest.
  void Advance(std::uint64_t items = 1, const std::string& detail = "");
  // The call is done: done jumps to total (work that ended early skips the rest).
  void Finish(const std::string& detail = "");

  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  // Rethrows what the callback threw, if it threw.
  void Rethrow() const;

 private:
  void SendLocked();
  ProgressCallback callback_;
  mutable std::mutex mu_;
  ProgressUpdate u_;
  bool planned_ = false;
  std::uint64_t phase_start_ = 0;  // overall `done` when the phase began
  std::atomic<bool> cancelled_{false};
  std::exception_ptr error_;
};

// Safe with a null pointer: the library's entry points take `Progress*` that may be null.
inline void ProgressPhase(Progress* p, const std::string& name, const std::string& unit,
                          std::uint64_t items, bool may_end_early = false) {
  if (p) p->Phase(name, unit, items, may_end_early);
}
inline void ProgressAdvance(Progress* p, std::uint64_t items = 1, const std::string& detail = "") {
  if (p) p->Advance(items, detail);
}
inline bool ProgressCancelled(const Progress* p) { return p && p->cancelled(); }
inline void ProgressRethrow(const Progress* p) {
  if (p) p->Rethrow();
}

// The rate rule of the line printer, with an injectable clock (seconds, monotonic) and output.
// Nothing is written for work that finishes within `quiet_seconds`. After that:
// - on a terminal, one line refreshed in place (at most every `refresh_seconds`), erased when the
//   work finishes;
// - elsewhere (a log file, a batch job), one line when `interval_seconds` passed since the last
//   line or another `step` (fraction) of the phase is done, whichever comes first, and a last line
//   when the work finishes.
struct ProgressPrinterOptions {
  std::string command;  // "exitplan place", the start of every line
  bool terminal = false;
  double quiet_seconds = 2.0;
  double interval_seconds = 5.0;
  double step = 0.1;
  double refresh_seconds = 0.2;
  std::size_t columns = 0;  // terminal: its width (a longer line is cut); 0 = no limit
};

class ProgressPrinter {
 public:
  ProgressPrinter(ProgressPrinterOptions options, std::function<void(const std::string&)> write,
                  std::function<double()> clock = {});
  // On a terminal, erases a line still on screen (work that ended by an exception), so that an
  // error message starts on a clean line.
  ~ProgressPrinter();
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;
  void operator()(const ProgressUpdate& u);
  // The text of one line (no newline): "exitplan sweep: 120/280 cells (43%), 2 failed, 4.1 s
  // elapsed, ~5.4 s left". `phase_seconds`: time since the phase began (for the estimate).
  static std::string Line(const std::string& command, const ProgressUpdate& u, double elapsed,
                          double phase_seconds);

 private:
  ProgressPrinterOptions o_;
  std::function<void(const std::string&)> write_;
  std::function<double()> clock_;
  double start_ = 0, phase_start_ = 0, last_time_ = -1;
  std::string phase_;
  std::uint64_t last_done_ = 0;  // phase_done at the last line
  bool printed_ = false;         // any line written
  std::size_t width_ = 0;        // terminal: length of the longest line written
  bool on_screen_ = false;       // terminal: a line is shown (not erased yet)
};

// The command line's reporter: a ProgressPrinter on `stream` (a terminal or not, as isatty says),
// or nothing at all when `quiet`.
ProgressCallback StderrProgress(const std::string& command, bool quiet, std::FILE* stream = stderr);

}  // namespace exitplan
