package stats

import "math"

// Interval is the closed interval [Low, High]. An end is infinite when the
// data do not bound that side.
type Interval struct {
	Low, High float64
}

// Contains reports whether x lies in the closed interval.
func (iv Interval) Contains(x float64) bool { return iv.Low <= x && x <= iv.High }

// Width returns High - Low (+Inf when either end is unbounded).
func (iv Interval) Width() float64 { return iv.High - iv.Low }

// Jeffreys prior of the beta-binomial mixture.
const (
	priorA = 0.5
	priorB = 0.5
)

// validAlpha reports whether alpha is a usable error level; NaN is not.
func validAlpha(alpha float64) bool { return alpha > 0 && alpha < 1 }

// lbeta returns ln B(a, b) for positive a and b.
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// logMarginal returns the log marginal likelihood of k successes in n
// trials (in a fixed order) under the Beta(priorA, priorB) mixture.
func logMarginal(k, n float64) float64 {
	return lbeta(priorA+k, priorB+n-k) - lbeta(priorA, priorB)
}

// logLik returns k ln p + (n-k) ln(1-p) with 0·ln 0 = 0.
func logLik(k, n, p float64) float64 {
	var l float64
	if k > 0 {
		l += k * math.Log(p)
	}
	if n-k > 0 {
		l += (n - k) * math.Log1p(-p)
	}
	return l
}

// ProportionCS returns a time-uniform (1-alpha) confidence sequence for the
// success probability of a Bernoulli stream after n trials with k successes:
// with probability at least 1-alpha the interval contains the true
// probability at every n simultaneously, however often it is computed. It is
// the beta-binomial (Jeffreys) mixture sequence described in the package
// documentation. Invalid input (n <= 0, k outside [0, n], alpha outside
// (0, 1)) yields [0, 1].
func ProportionCS(k, n int64, alpha float64) Interval {
	if n <= 0 || k < 0 || k > n || !validAlpha(alpha) {
		return Interval{0, 1}
	}
	fk, fn := float64(k), float64(n)
	// p is in the sequence when its log-likelihood exceeds c.
	c := logMarginal(fk, fn) - math.Log(1/alpha)
	inside := func(p float64) bool { return logLik(fk, fn, p) > c }
	phat := fk / fn
	low, high := 0.0, 1.0
	if k > 0 {
		low = bisectEdge(inside, 0, phat)
	}
	if k < n {
		high = bisectEdge(inside, 1, phat)
	}
	return Interval{low, high}
}

// bisectEdge finds the edge of the set {p : inside(p)} between out (not
// inside) and in (inside), and returns the last point known to be outside,
// so numerical error only widens the interval.
func bisectEdge(inside func(float64) bool, out, in float64) float64 {
	for range 200 {
		mid := out + (in-out)/2
		if mid == out || mid == in || math.Abs(in-out) <= 1e-10*math.Max(math.Abs(in), math.Abs(out)) {
			break
		}
		if inside(mid) {
			in = mid
		} else {
			out = mid
		}
	}
	return out
}

// DiffProportionCS returns a time-uniform (1-alpha) confidence sequence for
// p1 - p2, the difference between the success probabilities of two Bernoulli
// streams (k1 successes in n1 trials, k2 in n2). Half of alpha goes to a
// ProportionCS for each stream (alpha/4 each, bounds subtracted), valid
// whatever the dependence between the streams and their lengths. The other
// half goes to a sequence on the paired differences X_i - Y_i, used at the
// looks where the streams have equal length (the i-th trials of the two
// streams form independent, identically distributed pairs, whether the
// streams are independent or measured on the same requests); the result is
// the intersection. A stream without trials leaves the interval within
// [-1, 1].
func DiffProportionCS(k1, n1, k2, n2 int64, alpha float64) Interval {
	if !validAlpha(alpha) {
		return Interval{-1, 1}
	}
	a := ProportionCS(k1, n1, alpha/4)
	b := ProportionCS(k2, n2, alpha/4)
	iv := Interval{a.Low - b.High, a.High - b.Low}
	if n1 == n2 && n1 > 0 && k1 >= 0 && k1 <= n1 && k2 >= 0 && k2 <= n2 {
		// Each difference lies in [-1, 1]; its square is 1 for a discordant
		// pair and 0 otherwise, so k1 + k2 bounds the sum of squares from
		// above, which only widens the sequence.
		p := MeanCS(n1, float64(k1-k2), float64(k1+k2), -1, 1, alpha/2)
		iv = Interval{math.Max(iv.Low, p.Low), math.Min(iv.High, p.High)}
	}
	return iv
}

// FixedHorizonProportionCI returns the two-sided (1-alpha) Wilson score
// interval for a proportion, the inversion of the one-sample z-test. It is
// valid only when computed once at a sample size fixed in advance; computing
// it repeatedly as data arrive and acting on the first decisive look inflates
// the error far beyond alpha. It exists for comparison. Invalid input yields
// [0, 1].
func FixedHorizonProportionCI(k, n int64, alpha float64) Interval {
	if n <= 0 || k < 0 || k > n || !validAlpha(alpha) {
		return Interval{0, 1}
	}
	z := math.Sqrt2 * math.Erfinv(1-alpha)
	fn := float64(n)
	p := float64(k) / fn
	z2 := z * z
	denom := 1 + z2/fn
	center := (p + z2/(2*fn)) / denom
	half := z * math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn)) / denom
	return Interval{math.Max(0, center-half), math.Min(1, center+half)}
}

// QuantileCS returns a time-uniform (1-alpha) confidence sequence for the
// q-quantile of a distribution, given n observations and quantile, the
// quantile function of their empirical distribution. It is distribution-free:
// it finds the range of counts [kLo, kHi] of observations below the quantile
// that a ProportionCS at q accepts and reads quantile just outside it.
//
// quantile(u) must return the order statistic X_(ceil(u*n)) (1-based) or a
// close approximation, as a DDSketch's GetValueAtQuantile does up to its
// relative accuracy; reads are placed half a rank outward so either the
// ceil(u*n) or the u*(n-1) rank convention stays conservative. quantile must
// be nondecreasing. When the data do not bound a side (too few observations)
// that end is infinite; invalid input (n <= 0, q outside (0, 1), alpha
// outside (0, 1), nil quantile) yields (-Inf, +Inf).
func QuantileCS(q float64, n int64, quantile func(float64) float64, alpha float64) Interval {
	unbounded := Interval{math.Inf(-1), math.Inf(1)}
	if n <= 0 || !(q > 0 && q < 1) || !validAlpha(alpha) || quantile == nil {
		return unbounded
	}
	kLo, kHi, ok := acceptedCounts(q, n, alpha)
	if !ok {
		return unbounded
	}
	fn := float64(n)
	iv := unbounded
	if kLo > 0 {
		iv.Low = quantile((float64(kLo) - 0.5) / fn)
	}
	if kHi < n {
		iv.High = quantile(math.Min(1, (float64(kHi)+1.5)/fn))
	}
	return iv
}

// acceptedCounts returns the range of success counts k in [0, n] for which q
// lies in ProportionCS(k, n, alpha). The log mixture ratio is convex in k,
// so the accepted counts form one range around n*q.
func acceptedCounts(q float64, n int64, alpha float64) (kLo, kHi int64, ok bool) {
	fn := float64(n)
	limit := math.Log(1 / alpha)
	lq, l1q := math.Log(q), math.Log1p(-q)
	logRatio := func(k int64) float64 {
		fk := float64(k)
		return logMarginal(fk, fn) - fk*lq - (fn-fk)*l1q
	}
	accepted := func(k int64) bool { return logRatio(k) < limit }
	center := int64(math.Floor(fn * q))
	if center < n && logRatio(center+1) < logRatio(center) {
		center++
	}
	if !accepted(center) {
		return 0, 0, false
	}
	if accepted(0) {
		kLo = 0
	} else {
		out, in := int64(0), center
		for in-out > 1 {
			mid := out + (in-out)/2
			if accepted(mid) {
				in = mid
			} else {
				out = mid
			}
		}
		kLo = in
	}
	if accepted(n) {
		kHi = n
	} else {
		in, out := center, n
		for out-in > 1 {
			mid := in + (out-in)/2
			if accepted(mid) {
				in = mid
			} else {
				out = mid
			}
		}
		kHi = in
	}
	return kLo, kHi, true
}
