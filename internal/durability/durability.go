// Package durability models how likely an erasure-coded stripe is to be
// lost in a year, the way Backblaze estimates the durability of its vaults:
// disks fail independently at a constant rate (the annual failure rate,
// AFR), a failed disk's shards are rebuilt within a repair window, and a
// stripe of k data and m parity shards on k+m disks is lost when more than
// m of them fail inside one window.
//
// Within a window of T hours each disk fails with probability
// p = 1 - exp(-λT), λ = -ln(1 - AFR) / 8760 per hour; a stripe is lost in
// that window with probability
//
//	P = Σ_{j=m+1..n} C(n,j) p^j (1-p)^(n-j),  n = k+m
//
// and in a year, 8760/T windows, with probability 1 - (1-P)^(8760/T). Nines
// are -log10 of that. Everything is computed in log space: for wide
// profiles P is far below the smallest float64, and the nines must still
// come out right.
//
// The model ignores correlated failures (a batch of bad disks, a lost
// rack), which dominate in practice once parity is generous; it says which
// profile falls short, not how safe data is.
package durability

import (
	"fmt"
	"math"
)

const (
	hoursPerYear = 8760

	// TargetNines is the durability below which Advise suggests a change:
	// eleven nines, what large object stores advertise.
	TargetNines = 11.0
	// MaxNines caps the nines Model reports. Past it the independence
	// assumption is what fails first, so more digits would be false
	// precision; the cap also keeps an infinite value (no failures, or
	// instant repair) out of JSON.
	MaxNines = 30.0
)

// Model returns the probability that a stripe of k data and m parity shards
// is lost within a year, and its nines (-log10 of it, at most MaxNines),
// for disks failing at afr per year and repairHours to rebuild a failed
// disk. A loss probability too small for a float64 comes back as 0 with
// its nines still computed (then capped). A repair slower than a year
// counts as none within the year: the year is then the window.
//
// Inputs outside k ≥ 1, m ≥ 0, 0 ≤ afr ≤ 1 and repairHours ≥ 0 (or NaN)
// return NaN for both; callers validate what operators type.
func Model(k, m int, afr, repairHours float64) (lossPerYear, nines float64) {
	if k < 1 || m < 0 || !(afr >= 0 && afr <= 1) || !(repairHours >= 0) {
		return math.NaN(), math.NaN()
	}
	logLoss := logLossPerYear(k, m, afr, repairHours)
	return math.Exp(logLoss), min(MaxNines, max(0, -logLoss/math.Ln10))
}

// logLossPerYear is ln of Model's loss probability; -Inf when no stripe can
// be lost (no failures, or instant repair).
func logLossPerYear(k, m int, afr, repairHours float64) float64 {
	window := min(repairHours, hoursPerYear)
	if afr == 0 || window == 0 {
		return math.Inf(-1)
	}
	// ln p and ln(1-p) straight from λT: p itself may round to 0 or 1.
	lambdaT := -math.Log1p(-afr) / hoursPerYear * window
	logP := math.Log(-math.Expm1(-lambdaT))
	logQ := -lambdaT
	n := k + m
	terms := make([]float64, 0, n-m)
	for j := m + 1; j <= n; j++ {
		term := logChoose(n, j) + float64(j)*logP
		if j < n { // 0·ln(1-p) is 0 even when every disk surely fails
			term += float64(n-j) * logQ
		}
		terms = append(terms, term)
	}
	logWindow := logSumExp(terms)
	windows := hoursPerYear / window
	// 1 - (1-P)^W = -expm1(W·ln(1-P)), exact while P is a normal float64.
	// Below that, W·P is the answer to far better than float64 precision,
	// and its log needs no P at all.
	if logWindow > minLogNormal {
		return math.Log(-math.Expm1(windows * math.Log1p(-math.Exp(logWindow))))
	}
	return logWindow + math.Log(windows)
}

// minLogNormal is about ln of the smallest normal float64 (2^-1022).
const minLogNormal = -708

// logChoose is ln C(n, j).
func logChoose(n, j int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(j + 1))
	c, _ := math.Lgamma(float64(n - j + 1))
	return a - b - c
}

// logSumExp is ln Σ exp(x) without overflow or underflow.
func logSumExp(xs []float64) float64 {
	top := math.Inf(-1)
	for _, x := range xs {
		top = max(top, x)
	}
	if math.IsInf(top, -1) {
		return top
	}
	var sum float64
	for _, x := range xs {
		sum += math.Exp(x - top)
	}
	return top + math.Log(sum)
}

// RepairHours is how long rebuilding one failed disk takes: its bytes at
// the cluster's repair rate. A rate of zero or less never repairs (+Inf,
// which Model treats as no repair within the year).
func RepairHours(bytesPerDisk, repairBytesPerSecond float64) float64 {
	if repairBytesPerSecond <= 0 {
		return math.Inf(1)
	}
	return max(0, bytesPerDisk) / repairBytesPerSecond / 3600
}

// maxExtraParity bounds how far Advise looks for a profile that reaches
// TargetNines.
const maxExtraParity = 8

// Advise returns a sentence for the operator when a k+m profile at afr and
// repairHours models fewer than TargetNines nines: how many it gives, and
// what k+(m+1) would give under the same conditions, or else the least
// parity that reaches the target, or that repairs must get faster. It
// returns "" when the profile is durable enough (or the inputs are
// invalid, see Model).
func Advise(k, m int, afr, repairHours float64) string {
	_, nines := Model(k, m, afr, repairHours)
	if math.IsNaN(nines) || nines >= TargetNines {
		return ""
	}
	s := fmt.Sprintf("%d+%d models %.1f nines at an annual disk failure rate of %.3g%% and %.1f h to repair a disk, short of %g",
		k, m, nines, afr*100, repairHours, TargetNines)
	_, next := Model(k, m+1, afr, repairHours)
	s += fmt.Sprintf("; %d+%d would give %.1f", k, m+1, next)
	if next >= TargetNines {
		return s + "."
	}
	for extra := 2; extra <= maxExtraParity; extra++ {
		if _, more := Model(k, m+extra, afr, repairHours); more >= TargetNines {
			return s + fmt.Sprintf(", %d+%d reaches %.1f; faster repair (more disks sharing each rebuild) also helps.", k, m+extra, more)
		}
	}
	return s + "; no parity up to " + fmt.Sprintf("%d+%d", k, m+maxExtraParity) + " reaches it: repair must get faster."
}
