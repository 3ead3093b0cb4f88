package stats

import "math"

// hoeffdingTuneN is the sample size at which the Hoeffding stage of MeanCS
// is tightest. Any fixed value keeps the sequence valid; it must not depend
// on the data.
const hoeffdingTuneN = 1000

// Grid of mixing parameters, lambda = 2^(k/2) / scale for k in
// [gridMinK, gridMaxK], with uniform weights. Fixed in advance, so the
// mixtures are supermartingales whatever the data.
const (
	gridMinK         = -50
	gridMaxKBennett  = 8 // lambda*b up to 16
	gridMaxKVariance = 1 // lambda*B up to sqrt 2, below the 2 where the bound stops helping
)

// MeanCS returns a time-uniform (1-alpha) confidence sequence for the mean
// of independent, identically distributed observations bounded in [lo, hi],
// given their count n, sum and sum of squares. It adapts to the observed
// spread (an empirical-Bernstein-style sequence, see the package
// documentation) and never exceeds [lo, hi].
//
// lo and hi must bound every possible observation and be chosen before the
// data arrive (a configured cap, not the largest value seen so far). Invalid
// input (n <= 0, hi < lo, non-finite bounds or sums, alpha outside (0, 1))
// yields [lo, hi], or (-Inf, +Inf) when the bounds themselves are unusable.
func MeanCS(n int64, sum, sumSq, lo, hi, alpha float64) Interval {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || hi < lo {
		return Interval{math.Inf(-1), math.Inf(1)}
	}
	if n <= 0 || !validAlpha(alpha) || math.IsNaN(sum) || math.IsNaN(sumSq) ||
		math.IsInf(sum, 0) || math.IsInf(sumSq, 0) {
		return Interval{lo, hi}
	}
	if hi == lo {
		return Interval{lo, hi}
	}
	fn := float64(n)
	r := hi - lo
	mean := sum / fn

	// Stage 1 (alpha/4): Hoeffding variance proxy, normal mixture.
	vH := fn * r * r / 4
	h1 := normalMixtureBound(vH, tunedRho(hoeffdingTuneN*r*r/4, alpha/4), alpha/4)

	// Stage 2 (alpha/4): upper bound on the variance. The plug-in variance
	// gets a few ulps of slack for cancellation in sumSq/n - mean^2.
	second := sumSq / fn
	s2 := math.Max(0, second-mean*mean) + 8*epsilon*math.Max(second, mean*mean)
	// Stage 3 (alpha/2): Bennett mixture at the variance bound.
	//
	// All three stages hold together on one event of probability 1-alpha,
	// and on that event |S_n| <= h and sigma^2 <= u follow from each other's
	// bounds, so tightening them in turn stays valid.
	h := h1
	for range 2 {
		// On the event, mu is within h/n of the mean, which bounds each
		// squared deviation and the sum of squared deviations.
		muLo, muHi := math.Max(lo, mean-h/fn), math.Min(hi, mean+h/fn)
		dev := math.Max(hi-muLo, muHi-lo)
		q := fn*s2 + h*h/fn
		u := varianceUpperBound(fn, q, dev*dev, r*r/4, alpha/4)
		h3 := bennettBound(fn*u, r, alpha/2)
		if h3 >= h {
			break
		}
		improved := h3 < 0.99*h
		h = h3
		if !improved {
			break
		}
	}

	mean = math.Max(lo, math.Min(hi, mean))
	return Interval{math.Max(lo, mean-h/fn), math.Min(hi, mean+h/fn)}
}

// epsilon is the float64 machine epsilon.
const epsilon = 0x1p-52

// normalMixtureBound returns the two-sided normal-mixture boundary on |S_n|
// for a sub-Gaussian sum with variance process v, mixing precision rho and
// level alpha (Howard et al. 2021).
func normalMixtureBound(v, rho, alpha float64) float64 {
	return math.Sqrt((v + rho) * math.Log((v+rho)/(rho*alpha*alpha)))
}

// tunedRho returns the mixing precision that makes the two-sided normal
// mixture boundary tightest at variance process vOpt: rho = vOpt / y with y
// the fixed point of y = L + ln(1+y), L = 2 ln(1/alpha).
func tunedRho(vOpt, alpha float64) float64 {
	l := 2 * math.Log(1/alpha)
	y := l
	for range 8 {
		y = l + math.Log1p(y)
	}
	return vOpt / y
}

// halfPowers holds 2^(k/2) for k in [gridMinK, gridMaxKBennett]; it is
// computed once and never written.
var halfPowers = func() [gridMaxKBennett - gridMinK + 1]float64 {
	var g [gridMaxKBennett - gridMinK + 1]float64
	for i := range g {
		g[i] = math.Exp2(float64(i+gridMinK) / 2)
	}
	return g
}()

// lambdaGrid returns the mixing parameters 2^(k/2)/scale for k in
// [gridMinK, maxK].
func lambdaGrid(scale float64, maxK int) []float64 {
	g := make([]float64, maxK-gridMinK+1)
	for i := range g {
		g[i] = halfPowers[i] / scale
	}
	return g
}

// negligible is the log-ratio below which a mixture term is dropped from a
// sum: e^-60 is far below float64 resolution relative to the largest term.
const negligible = -60

// varianceUpperBound returns the largest variance sigma^2 in [0, upper] that
// the lower-tail mixture over squared deviations does not reject at level
// alpha, given n and q, an upper bound on the sum of squared deviations from
// the true mean; bigB bounds each squared deviation. The mixing grid is
// scaled by the range of the data, not by bigB, so it stays fixed while
// bigB is tightened.
//
// The rejection statistic is h(x) = log sum_j w exp(lambda_j (n x - q) -
// lambda_j^2 n B x / 2), a log-sum-exp of affine functions of x, hence
// convex, with h(0) < ln(1/alpha). The accepted set is therefore [0, U) and
// Newton's method started where h >= ln(1/alpha) descends to U from above,
// every iterate staying an upper bound.
func varianceUpperBound(n, q, bigB, upper, alpha float64) float64 {
	lams := lambdaGrid(4*upper, gridMaxKVariance)
	logW := -math.Log(float64(len(lams)))
	c := math.Log(1 / alpha)
	slope := make([]float64, len(lams))
	offset := make([]float64, len(lams))
	for j, l := range lams {
		slope[j] = n * l * (1 - l*bigB/2)
		offset[j] = logW - l*q
	}
	h := func(x float64) (val, deriv float64) {
		return logSumExpAffine(slope, offset, x)
	}
	if v, _ := h(upper); v < c {
		return upper
	}
	// Start at the smallest x where one term alone reaches c.
	x := upper
	for j := range lams {
		if slope[j] > 0 {
			if xj := (c - offset[j]) / slope[j]; xj < x && xj >= 0 {
				x = xj
			}
		}
	}
	return newtonFromAbove(h, x, c)
}

// bennettBound returns the boundary on |S_n| of the two-sided Bennett
// mixture at level alpha for a sum of centred observations bounded above by
// b (on both sides) with variance process v.
func bennettBound(v, b, alpha float64) float64 {
	lams := lambdaGrid(b, gridMaxKBennett)
	logW := -math.Log(float64(len(lams)))
	c := math.Log(1 / alpha)
	offset := make([]float64, len(lams))
	for j, l := range lams {
		lb := l * b
		psi := (math.Expm1(lb) - lb) / (b * b)
		offset[j] = logW - v*psi
	}
	// F(s) = log sum_j w exp(-v psi_j) cosh(lambda_j s): a log-sum-exp of
	// the affine functions +-lambda_j s + offset_j - ln 2, hence convex.
	f := func(s float64) (val, deriv float64) {
		m := math.Inf(-1)
		for j, l := range lams {
			if v := offset[j] + l*s; v > m {
				m = v
			}
		}
		var sum, dsum float64
		for j, l := range lams {
			xp := offset[j] + l*s - m
			if xp < negligible {
				continue // the minus term is smaller still
			}
			ep := math.Exp(xp)
			em := 0.0
			if xm := offset[j] - l*s - m; xm >= negligible {
				em = math.Exp(xm)
			}
			sum += ep + em
			dsum += l * (ep - em)
		}
		return m + math.Log(sum/2), dsum / sum
	}
	// Start at the smallest s where one term alone reaches c:
	// w e^{-v psi} cosh(lambda s) >= w e^{-v psi} e^{lambda s}/2.
	s := math.Inf(1)
	for j, l := range lams {
		s = math.Min(s, (c-offset[j]+math.Ln2)/l)
	}
	return newtonFromAbove(f, s, c)
}

// logSumExpAffine returns log sum_j exp(slope_j x + offset_j) and its
// derivative in x.
func logSumExpAffine(slope, offset []float64, x float64) (val, deriv float64) {
	m := math.Inf(-1)
	for j := range slope {
		if v := slope[j]*x + offset[j]; v > m {
			m = v
		}
	}
	var sum, dsum float64
	for j := range slope {
		xj := slope[j]*x + offset[j] - m
		if xj < negligible {
			continue
		}
		e := math.Exp(xj)
		sum += e
		dsum += slope[j] * e
	}
	return m + math.Log(sum), dsum / sum
}

// newtonFromAbove solves f(x) = c for a convex f that is increasing where
// f >= c, starting from x0 with f(x0) >= c. Newton steps on a convex function
// from above never cross the root, so every iterate, and the result, is on
// the conservative side.
func newtonFromAbove(f func(float64) (float64, float64), x0, c float64) float64 {
	x := x0
	for range 100 {
		v, d := f(x)
		gap := v - c
		if gap <= 1e-10*(1+math.Abs(c)) || d <= 0 {
			return x
		}
		next := x - gap/d
		if next >= x || next < 0 {
			return x
		}
		x = next
	}
	return x
}
