package converter

import "sort"

// repair improves a finished greedy plan by trades the greedy cannot make:
// take one upgrade that no longer fits, and pay for it with the downgrades
// that lose the least estimated error per byte freed, if they lose less than
// the upgrade gains. (On stories260K at 5 bpw the greedy leaves
// token_embd at pq_4x8 because the last 2 KB that would lift it to pq_2x8 are
// spent; moving one q8_0 attention tensor back to PQ pays for it.) The size
// of every trade is checked exactly with sizeOf. The search ends with the
// repaired assignment.
func (s *search) repair() {
	const upgradesTried = 32 // best gains per byte only: keeps it fast on big models
	type step struct {
		i, j  int
		delta float64 // error change (negative = better)
		bytes int64   // tensor's own byte change (tables not counted)
	}
	p, target := s.p, s.target
	cur := append([]int(nil), s.cur...)
	repaired := false
	for round := 0; round < len(cur); round++ {
		var ups, downs []step
		// Moves only onto tables the plan already has (or dense types): a
		// new table's cost is not in a tensor's own bytes, and the greedy
		// already weighed new tables.
		used := map[optKey]bool{}
		for i := range p.tensors {
			if c := p.options[i][cur[i]]; c.PQ {
				used[optKey{c.Type, c.K}] = true
			}
		}
		for i := range p.tensors {
			if len(p.options[i]) < 2 {
				continue
			}
			c0 := p.options[i][cur[i]]
			d0, b0 := p.distortion(i, c0), p.tensorCost(i, c0)
			for j, c := range p.options[i] {
				if j == cur[i] {
					continue
				}
				m := step{i, j, p.distortion(i, c) - d0, p.tensorCost(i, c) - b0}
				switch {
				case m.delta < 0 && (!c.PQ || used[optKey{c.Type, c.K}]):
					ups = append(ups, m)
				case m.bytes < 0 && (!c.PQ || used[optKey{c.Type, c.K}]):
					downs = append(downs, m)
				}
			}
		}
		// Best gain per byte first, as the greedy ranks them.
		sort.SliceStable(ups, func(a, b int) bool {
			return ups[a].delta/float64(max(ups[a].bytes, 1)) < ups[b].delta/float64(max(ups[b].bytes, 1))
		})
		sort.SliceStable(downs, func(a, b int) bool {
			return downs[a].delta/float64(-downs[a].bytes) < downs[b].delta/float64(-downs[b].bytes)
		})
		improved := false
		for _, u := range ups[:min(len(ups), upgradesTried)] {
			next := append([]int(nil), cur...)
			next[u.i] = u.j
			moved := map[int]bool{u.i: true}
			loss := u.delta
			size := p.sizeOf(next)
			fits := size <= target
			for _, d := range downs {
				if fits || loss >= 0 {
					break
				}
				if moved[d.i] {
					continue
				}
				next[d.i] = d.j
				moved[d.i] = true
				loss += d.delta
				// Track the size by the tensors' own bytes; the exact
				// (table-aware) size only when that estimate fits.
				if size += d.bytes; size <= target {
					size = p.sizeOf(next)
					fits = size <= target
				}
			}
			if fits && loss < 0 {
				cur, improved, repaired = next, true, true
				break
			}
		}
		if !improved {
			break
		}
	}
	if repaired {
		s.set(cur)
	}
}
