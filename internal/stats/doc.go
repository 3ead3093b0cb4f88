// Package stats provides confidence sequences: intervals that stay valid
// however often, and whenever, they are looked at.
//
// # Why confidence sequences
//
// The evaluator looks at a running experiment every few minutes for 7–14
// days and stops as soon as the data look decisive. A fixed-horizon interval
// (a z-test or Wilson interval computed at each look) covers the truth with
// probability 1-alpha at one pre-planned sample size only; checked 100 times
// it misses the truth at some look far more often than alpha (the package
// tests measure about a third of runs for alpha = 5%). A (1-alpha) confidence sequence
// (CS) is a sequence of intervals C_1, C_2, ... with
//
//	P(for all n: truth in C_n) >= 1 - alpha,
//
// so any number of looks, and stopping at a data-dependent time, keep the
// error below alpha. Every interval here is built the same way: a family of
// nonnegative (super)martingales M_n(theta) with M_0 = 1 under the hypothesis
// that theta is the truth, and Ville's inequality
// P(exists n: M_n >= 1/alpha) <= alpha; the CS is {theta : M_n(theta) < 1/alpha}.
// Nothing is asymptotic: the guarantees hold at every sample size.
//
// # Methods
//
// ProportionCS uses the beta-binomial conjugate mixture of Howard, Ramdas,
// McAuliffe and Sekhon ("Time-uniform, nonparametric, nonasymptotic
// confidence sequences", Ann. Statist. 2021): the likelihood ratio
// of a Beta(1/2, 1/2) (Jeffreys) mixture against the point hypothesis p is a
// martingale under p, so
//
//	C_n = { p : k ln p + (n-k) ln(1-p) > ln B(1/2+k, 1/2+n-k) - ln B(1/2, 1/2) - ln(1/alpha) }.
//
// It is exact for Bernoulli data (no variance proxy, so it adapts to rates
// near 0 or 1 such as error rates), and the set is an interval because the
// log-likelihood is concave. The Jeffreys prior puts more mass near 0 and 1
// than a uniform prior, which narrows the sequence for the extreme rates the
// platform measures (error rates near 1%, accuracies above 90%). Endpoints
// are found by bisection and the outer end of the final bracket is returned,
// so rounding only ever widens the interval.
//
// DiffProportionCS spends alpha/2 on a ProportionCS for each stream (alpha/4
// each, bounds subtracted: valid for any dependence and any lengths) and
// alpha/2 on a MeanCS of the paired differences X_i - Y_i in [-1, 1], used
// at looks where both streams have the same length; the result is the
// intersection. The i-th trials of two streams form independent,
// identically distributed pairs whether the streams are independent or
// measured on the same requests, so the paired sequence is valid in both
// cases, and it is about 30% narrower than the subtracted bounds at the
// sample sizes the evaluator sees. The sum of squared differences is the
// number of discordant pairs, which the counts bound by k1 + k2; a larger
// sum of squares only widens MeanCS, so the bound is safe.
//
// MeanCS, for observations bounded in [lo, hi], spends alpha in three parts,
// all from (n, sum, sum of squares), with S_n = sum - n mu:
//
//  1. alpha/4: the two-sided normal-mixture boundary (Howard et al. 2021)
//     with the Hoeffding variance proxy ((hi-lo)/2)^2, tuned to be
//     tightest near n = 1000: |S_n| <= sqrt((v+rho) ln((v+rho)/(rho alpha^2))).
//  2. alpha/4: a time-uniform upper bound U_n on the variance sigma^2. The
//     squared deviations Z_i = (X_i - mu)^2 lie in [0, B], B =
//     max(hi-mu, mu-lo)^2, so E[Z^2] <= B sigma^2 and
//     exp(-lambda(sum Z - n sigma^2) - lambda^2 n B sigma^2/2) is a
//     supermartingale for every lambda >= 0. Since sum Z = n s^2 + S_n^2/n
//     (s^2 the plug-in variance), any bound |S_n| <= h gives
//     sum Z <= n s^2 + h^2/n and bounds B, so U_n needs no knowledge of mu.
//  3. alpha/2: Bennett's supermartingale exp(lambda S_n - n sigma^2 psi(lambda)),
//     psi(lambda) = (e^{lambda b} - 1 - lambda b)/b^2 with b = hi-lo, at
//     sigma^2 = U_n (the boundary grows with the variance, so an upper bound
//     keeps validity).
//
// All three hold together, at every n, with probability at least 1-alpha
// (union bound), and on that event each stage's bound is a true statement
// the others may use: step 2 starts from step 1's h, step 3's tighter h
// feeds step 2 once more, and the result is the smallest h found. Steps 2
// and 3 mix over a fixed geometric grid of lambda values (ratio sqrt 2,
// uniform weights, scaled by the range only), which keeps the boundary within
// a few percent of the best single lambda at every scale without tuning to
// an unknown variance, and every boundary is solved by Newton's method from
// the conservative side. The result is an empirical-Bernstein-style
// sequence: it shrinks with the observed spread rather than the range,
// which matters for costs whose range is much wider than their spread. At
// n = 10,000 observations with spread 0.03 on [0, 0.4] it is about 2.5
// times as wide as a fixed-horizon normal interval, against 11 times for
// the range-only (Hoeffding) sequence.
//
// QuantileCS is distribution-free. For the true q-quantile xi, the
// indicators 1{X_i <= xi} dominate, and 1{X_i < xi} are dominated by, a
// Bernoulli(q) stream, so the counts of observations below xi stay, at every
// n, inside the acceptance region {k : q in ProportionCS(k, n, alpha)} with
// probability 1-alpha. That region is a range of counts [kLo, kHi] (the log
// mixture is convex in k) and the interval is read from the empirical
// quantile function just outside it. It holds for discrete and continuous
// distributions alike; the only error beyond alpha is the accuracy of the
// quantile function the caller supplies (for a DDSketch, its relative error).
//
// FixedHorizonProportionCI is the Wilson score interval (the inversion of
// the one-sample z-test). It is valid at one pre-planned n only and exists to
// show, in tests and benchmarks, what repeated looks do to it.
//
// # Using the sequences
//
// Validity is for one sequence followed over time with a fixed alpha and,
// for MeanCS, fixed bounds: choose them before the data arrive and keep them.
// To hold several sequences simultaneously, split alpha (Bonferroni): the
// decision package gives each of its m tests alpha/m. Inputs outside a
// function's domain (n <= 0, alpha outside (0, 1), inconsistent counts)
// return the uninformative interval rather than an error, so a caller never
// mistakes missing data for evidence.
//
// # Concurrency
//
// Every function is pure and safe for concurrent use.
package stats
