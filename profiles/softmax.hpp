// The stable softmax of one exit's logits and the confidence measures read off it: the one
// definition shared by the dump's feature pass and the EENet scorer inputs (the runtime header
// repeats the same arithmetic on purpose, to stay standalone).
#pragma once

#include <string>

namespace exitplan {

struct ExitSoftmax {
  int arg = 0;            // argmax class (first of ties)
  double sum = 0.0;       // sum_q exp(z_q - z_max); p_q = exp_q / sum
  double max_prob = 0.0;  // 1 / sum (Ilhan et al. 2023 eq. 5)
  double entropy = 0.0;   // 1 - H(p) / log C (Ilhan et al. 2023 eq. 6); 1 when C = 1
  double margin = 0.0;    // top-1 minus top-2 probability; 1 when C = 1
};

// z: the C logits of one sample at one exit; on return z[q] = exp(z_q / T - max). inv_t = 1 / T,
// log_c = log C. Throws InputError naming `source`, the sample, exit (1-based) and class on a
// non-finite logit.
ExitSoftmax ComputeExitSoftmax(double* z, int c, double inv_t, double log_c,
                               const std::string& source, int sample, int exit);

}  // namespace exitplan
