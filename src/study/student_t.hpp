// Student's t distribution, for confidence intervals in the study runner's decisions.
#pragma once

namespace kmoe {

// P(T ≤ t) for T ~ Student's t with `df` > 0 degrees of freedom.
double student_t_cdf(double t, double df);
// The t with P(T ≤ t) = p, 0 < p < 1 (e.g. p = 0.975: a 95 % interval's multiplier).
double student_t_quantile(double p, double df);

}  // namespace kmoe
