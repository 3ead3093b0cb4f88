package measure

import (
	"slices"
	"time"
)

// HistoryPoint is one coarse bucket of a series: what was recorded in
// [Start, Start+bucket width).
type HistoryPoint struct {
	Start time.Time
	Stats Stats
}

// History returns series' coarse buckets that start within [from, to], in
// time order, one point per bucket that holds data (the dashboard's charts
// draw gaps where there is none).
func (r *Recorder) History(series string, from, to time.Time) []HistoryPoint {
	r.sync()
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.series[series]
	if s == nil {
		return nil
	}
	g := s.coarse
	lo, hi := g.epochOf(from), g.epochOf(to)
	var out []HistoryPoint
	for i := range g.slots {
		b := &g.slots[i]
		if b.epoch == noEpoch || b.epoch < lo || b.epoch > hi {
			continue
		}
		st := Stats{Aggregate: b.agg.Clone()}
		st.Counts.merge(&b.counts)
		out = append(out, HistoryPoint{Start: g.startOf(b.epoch), Stats: st})
	}
	slices.SortFunc(out, func(a, b HistoryPoint) int { return a.Start.Compare(b.Start) })
	return out
}
