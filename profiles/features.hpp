// The per-exit features of a dump, in one fused pass over the memory-mapped logits: for each
// sample and exit the softmax measures (profiles/softmax.hpp), the prediction, its correctness
// against the label and against exit K, patience and vote. Multi-threaded (contiguous blocks of
// samples, one thread per core) and vectorised (AVX2 + FMA + F16C when the CPU has them, picked at
// run time); the results do not depend on the thread count or the CPU.
#pragma once

#include <cstddef>
#include <functional>

#include "profiles/dump.hpp"

namespace exitplan {

// Fills the logits measures, predicted, correct and agrees_final of `s` from s.logits_, with
// s.temperatures (K values). Throws InputError on the first non-finite logit in sample order
// (the same message whatever the thread count).
void ComputeLogitFeatures(SplitData& s);

// Scores mode: fills s.scores_[kConfidence] and s.correct (K x N) from the [K, N] arrays in one
// blocked, multi-threaded pass. Returns false, having filled nothing reliable, when a confidence
// is NaN or a correctness value is not 0/1 (the caller then names the first one).
bool LoadScoreFeatures(const NpyArray& conf, const NpyArray& corr, SplitData& s);

// Runs body(begin, end) over [0, n) in blocks of `block` items on up to FeatureThreads() threads
// (one when the work is small: `work` is the number of elements touched). body returns false to
// stop handing out blocks after the current ones (an error); returns false when any body did.
bool ParallelBlocks(std::size_t n, std::size_t block, std::size_t work,
                    const std::function<bool(std::size_t, std::size_t)>& body);

// Worker threads of the feature passes: the hardware threads of this machine, or
// EXITPLAN_THREADS when set to a positive number.
int FeatureThreads();

}  // namespace exitplan
