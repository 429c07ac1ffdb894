#include "profiles/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

namespace exitplan {

void Progress::Plan(std::uint64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  planned_ = true;
  u_.total = std::max(total, u_.done);
}

void Progress::Phase(const std::string& name, const std::string& unit, std::uint64_t items,
                     bool may_end_early) {
  std::lock_guard<std::mutex> lock(mu_);
  // An earlier phase that ended early (or was planned larger) counts as done.
  if (!u_.phase.empty()) u_.done = std::max(u_.done, phase_start_ + u_.phase_total);
  phase_start_ = u_.done;
  u_.phase = name;
  u_.unit = unit;
  u_.phase_done = 0;
  u_.phase_total = items;
  u_.detail.clear();
  u_.may_end_early = may_end_early;
  if (planned_) {
    u_.total = std::max(u_.total, u_.done + items);
  } else {
    u_.total = u_.done + items;
  }
  SendLocked();
}

void Progress::Advance(std::uint64_t items, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  u_.phase_done += items;
  if (u_.phase_total && u_.phase_done > u_.phase_total) u_.phase_done = u_.phase_total;
  u_.done = std::max(u_.done, phase_start_ + u_.phase_done);
  u_.total = std::max(u_.total, u_.done);
  u_.detail = detail;
  SendLocked();
}

void Progress::Finish(const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  if (u_.finished) return;
  u_.done = u_.total;
  if (!detail.empty()) u_.detail = detail;
  u_.finished = true;
  SendLocked();
}

void Progress::SendLocked() {
  if (!callback_ || cancelled()) return;
  try {
    callback_(u_);
  } catch (...) {
    error_ = std::current_exception();
    cancelled_.store(true, std::memory_order_relaxed);
  }
}

void Progress::Rethrow() const {
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = error_;
  }
  if (e) std::rethrow_exception(e);
}

namespace {

std::string Seconds(double s) {
  char b[32];
  if (s < 100) {
    std::snprintf(b, sizeof b, "%.1f s", s);
  } else {
    std::snprintf(b, sizeof b, "%.0f s", s);
  }
  return b;
}

}  // namespace

ProgressPrinter::ProgressPrinter(ProgressPrinterOptions options,
                                 std::function<void(const std::string&)> write,
                                 std::function<double()> clock)
    : o_(std::move(options)), write_(std::move(write)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = []() {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  start_ = clock_();
  phase_start_ = start_;
}

std::string ProgressPrinter::Line(const std::string& command, const ProgressUpdate& u,
                                  double elapsed, double phase_seconds) {
  std::string s = command + ": ";
  if (!u.phase.empty() && u.phase != u.unit) s += u.phase + ": ";
  s += std::to_string(u.phase_done);
  if (u.phase_total) s += "/" + std::to_string(u.phase_total);
  s += " " + u.unit;
  if (u.phase_total && !u.may_end_early) {
    const int pct = static_cast<int>(100.0 * u.phase_done / u.phase_total);
    s += " (" + std::to_string(pct) + "%)";
  }
  if (!u.detail.empty()) s += ", " + u.detail;
  s += ", " + Seconds(elapsed) + " elapsed";
  if (u.finished) return s + ", done";
  // The estimate assumes the remaining items of the phase take as long as the finished ones; it
  // is left out when the phase may stop early or nothing finished yet.
  if (u.phase_total && !u.may_end_early && u.phase_done > 0 && u.phase_done < u.phase_total) {
    const double left = phase_seconds / u.phase_done * (u.phase_total - u.phase_done);
    const bool last_phase = u.done + (u.phase_total - u.phase_done) >= u.total;
    s += ", ~" + Seconds(left) + " left" + (last_phase ? "" : " in this phase");
  }
  return s;
}

void ProgressPrinter::operator()(const ProgressUpdate& u) {
  const double now = clock_();
  if (u.phase != phase_) {
    phase_ = u.phase;
    phase_start_ = now;
    last_done_ = 0;
  }
  const double elapsed = now - start_;
  if (u.finished) {
    if (!printed_) return;  // short work: nothing at all
    if (o_.terminal) {
      write_("\r" + std::string(width_, ' ') + "\r");
    } else {
      write_(Line(o_.command, u, elapsed, now - phase_start_) + "\n");
    }
    return;
  }
  if (elapsed < o_.quiet_seconds) return;
  if (o_.terminal) {
    if (printed_ && now - last_time_ < o_.refresh_seconds) return;
    std::string line = Line(o_.command, u, elapsed, now - phase_start_);
    // A line wider than the terminal would wrap, and "\r" would no longer go back to its start.
    if (o_.columns > 1 && line.size() >= o_.columns) line.resize(o_.columns - 1);
    std::string out = "\r" + line;
    if (line.size() < width_) out += std::string(width_ - line.size(), ' ');
    width_ = std::max(width_, line.size());
    write_(out);
  } else {
    const bool step = u.phase_total > 0 &&
                      static_cast<double>(u.phase_done - std::min(u.phase_done, last_done_)) >=
                          o_.step * static_cast<double>(u.phase_total);
    const bool due = !printed_ || now - last_time_ >= o_.interval_seconds;
    // All the work done: the finishing line says so (once, with "done").
    if ((!step && !due) || (u.total > 0 && u.done >= u.total)) return;
    write_(Line(o_.command, u, elapsed, now - phase_start_) + "\n");
  }
  printed_ = true;
  last_time_ = now;
  last_done_ = u.phase_done;
}

ProgressCallback StderrProgress(const std::string& command, bool quiet, std::FILE* stream) {
  if (quiet) return {};
  ProgressPrinterOptions o;
  o.command = command;
  o.terminal = isatty(fileno(stream)) != 0;
  if (o.terminal) {
    winsize ws{};
    if (ioctl(fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) o.columns = ws.ws_col;
  }
  auto printer = std::make_shared<ProgressPrinter>(o, [stream](const std::string& text) {
    std::fputs(text.c_str(), stream);
    std::fflush(stream);
  });
  return [printer](const ProgressUpdate& u) { (*printer)(u); };
}

}  // namespace exitplan
