package converter

import (
	"fmt"
	"math"
	"sort"

	"github.com/pocketgguf/pocketgguf/format"
)

// The allocator: a greedy marginal-error-per-byte search. Every tensor starts
// at its smallest choice; then, while the predicted file fits --bpw, the
// upgrade with the largest drop in weighted estimated error per added byte is
// taken. Table costs are part of every step's byte count, so on a small model
// sharing a table wins over per-tensor tables, and small K over large K.
// "Error" is the estimated relative MSE × weights × the kind's measured
// sensitivity (sensitivity.go) × the table layout's penalty (layout.go).

// aggNum summarises the tensors that use one PQ option (type, K).
type aggNum struct {
	count          int
	idxBytes, rows int64
	scaleBytes     int64 // Σ pocket.tensor.<T>.scale key sizes, paid if row scales are on
	kinds          map[string]int
}

func (a *aggNum) distinctKinds() int { return len(a.kinds) }

// level is the sharing an option's tensors get: the flag, or under auto the
// finest level whose tables cost at most 1/16 of the indices they serve.
func (p *planner) level(k optKey, count, kinds int, idx int64) string {
	mode := p.sharingMode()
	if mode != "auto" {
		return mode
	}
	tb := p.tableBytes(k)
	switch {
	case int64(count)*tb*16 <= idx:
		return "tensor"
	case int64(kinds)*tb*16 <= idx:
		return "kind"
	}
	return "model"
}

// tables is how many tables an option needs at a sharing level. Under model
// sharing the embeddings join the shared table too: on small models a table
// of their own costs more than the error it saves.
func tables(level string, count, kinds int) int {
	switch level {
	case "tensor":
		return count
	case "kind":
		return kinds
	}
	return 1
}

var groupNameFill = string(make([]byte, groupNameEstimate))

// aggCost is the bytes an option adds beyond its tensors' data: tables and row scales.
func (p *planner) aggCost(k optKey, count, kinds int, idx, rows, scaleBytes int64) int64 {
	if count == 0 {
		return 0
	}
	lvl := p.level(k, count, kinds, idx)
	c := int64(tables(lvl, count, kinds)) * p.tableBytes(k)
	if p.rowScaleFor(k, rows, idx) {
		c += scaleBytes
	}
	return c
}

// tensorCost is the bytes one tensor's choice costs by itself: aligned data,
// and for PQ its table-name and rel_rmse keys.
func (p *planner) tensorCost(i int, c Choice) int64 {
	if c.PQ {
		if p.pqKeyCache == nil {
			p.pqKeyCache = make([]int64, len(p.tensors))
			for j := range p.tensors {
				p.pqKeyCache[j] = tensorKeysSize(&p.tensors[j].Info, groupNameFill, false)
			}
		}
		t := &p.tensors[i].Info
		return alignUp(c.dataBytes(t), int64(p.g.Alignment)) + p.pqKeyCache[i]
	}
	t := &p.tensors[i].Info
	n := alignUp(c.dataBytes(t), int64(p.g.Alignment))
	if c.PQ {
		n += tensorKeysSize(t, groupNameFill, false)
	}
	return n
}

func (p *planner) scaleKeyBytes(i int) int64 {
	if p.scaleCache == nil {
		p.scaleCache = make([]int64, len(p.tensors))
		for j := range p.tensors {
			t := &p.tensors[j].Info
			p.scaleCache[j] = keySize(format.KeyTensorScale(t.Name)) + arrSize(int64(t.Rows()), 2)
		}
	}
	return p.scaleCache[i]
}

// tableBytes is the (estimated-name) size of one table's keys, memoised: the
// search asks for it millions of times on a large model.
func (p *planner) tableBytes(k optKey) int64 {
	if p.tableCache == nil {
		p.tableCache = map[optKey]int64{}
	}
	n, ok := p.tableCache[k]
	if !ok {
		n = tableKeysSize(groupNameFill, k.typ, k.k, p.tp)
		p.tableCache[k] = n
	}
	return n
}

// kind is kindOf(tensor i), memoised.
func (p *planner) kind(i int) string {
	if p.kinds == nil {
		p.kinds = make([]string, len(p.tensors))
		for j := range p.tensors {
			p.kinds[j] = kindOf(p.tensors[j].Info.Name)
		}
	}
	return p.kinds[i]
}

// distortion is memoised per tensor and choice (distortionOf does the work).
func (p *planner) distortion(i int, c Choice) float64 {
	if p.distCache == nil {
		p.distCache = map[distKey]float64{}
	}
	k := distKey{i, c}
	d, ok := p.distCache[k]
	if !ok {
		d = p.distortionOf(i, c)
		p.distCache[k] = d
	}
	return d
}

type distKey struct {
	i int
	c Choice
}

func (p *planner) distortionOf(i int, c Choice) float64 {
	t := &p.tensors[i].Info
	rel := c.relMSE(t.Type)
	if p.opt.speed() {
		rel = math.Pow(rel, speedErrorExponent)
	}
	d := sensitivity(t.Name) * float64(t.Elements()) * rel
	if c.PQ && p.difficulty != nil {
		d *= p.difficulty[i]
	}
	if c.PQ {
		d *= p.layout.penalty
	}
	return d
}

// speedErrorExponent makes the speed allocator weigh a tensor's estimated
// error as relMSE^1.5 instead of relMSE. The additive types' tables cost a
// few hundred bytes, so speed plans can afford to mix 1-bit, 2-bit and 3-bit
// tensors, which plain plans rarely do (their 8- and 12-bit tables cost KiB),
// and a sum of errors linear in each tensor's relMSE rates such a mix as
// good as an even plan of the same size while its KL divergence is far
// higher: errors compound through the layers, and GPTQ recovers less of a
// coarse quantizer's error (stories260K, GPTQ, output-space error over
// weight error: attn_output pqa_8x8 0.43-0.65, pqa_4x8 0.32-0.54). Measured
// there with GPTQ (mean KLD, 20 chunks): 3 bpw 3.45 -> 2.49, 4 bpw 0.60 ->
// 0.51, 2.5 bpw 4.74 either way; exponent 2 gave 3.03, 0.51 and 4.96.
// Quality plans keep the linear sum (their files must not change).
const speedErrorExponent = 1.5

// allocate picks a choice per tensor; with --bpw the predicted size must fit.
// Each table layout the flags allow (layout.go) gets its own greedy search,
// its error estimates scaled by the layout's measured penalty; the plan with
// the least estimated weighted error wins (ties: the first layout listed).
func (p *planner) allocate() ([]Choice, error) {
	var best []Choice
	var bestErr error
	bestD, bestL := math.Inf(1), layout{}
	for _, l := range p.layouts() {
		p.layout, p.distCache = l, nil
		choices, err := p.allocateLayout()
		if err != nil {
			if bestErr == nil {
				bestErr = err
			}
			continue
		}
		var d float64
		for i, c := range choices {
			d += p.distortion(i, c)
		}
		if d < bestD {
			best, bestD, bestL = choices, d, l
		}
	}
	if best == nil {
		return nil, bestErr
	}
	p.layout, p.distCache = bestL, nil
	return best, nil
}

// allocateLayout is the greedy search under the current p.layout.
func (p *planner) allocateLayout() ([]Choice, error) {
	n := len(p.tensors)
	cur := make([]int, n)
	aggs := map[optKey]*aggNum{}
	get := func(k optKey) *aggNum {
		a := aggs[k]
		if a == nil {
			a = &aggNum{kinds: map[string]int{}}
			aggs[k] = a
		}
		return a
	}
	size := p.baseSize
	// Start: each tensor at its smallest choice.
	for i := range p.tensors {
		best := 0
		for j, c := range p.options[i] {
			cb, cj := p.tensorCost(i, p.options[i][best]), p.tensorCost(i, c)
			if cj < cb || cj == cb && c.K < p.options[i][best].K {
				best = j
			}
		}
		cur[i] = best
		size += p.tensorCost(i, p.options[i][best])
	}
	add := func(i int, c Choice, sign int) {
		if !c.PQ {
			return
		}
		a := get(optKey{c.Type, c.K})
		t := &p.tensors[i].Info
		a.count += sign
		a.idxBytes += int64(sign) * c.dataBytes(t)
		a.rows += int64(sign) * int64(t.Rows())
		a.scaleBytes += int64(sign) * p.scaleKeyBytes(i)
		kd := p.kind(i)
		a.kinds[kd] += sign
		if a.kinds[kd] == 0 {
			delete(a.kinds, kd)
		}
	}
	cost := func(k optKey, a *aggNum) int64 {
		return p.aggCost(k, a.count, a.distinctKinds(), a.idxBytes, a.rows, a.scaleBytes)
	}
	for i := range p.tensors {
		add(i, p.options[i][cur[i]], 1)
	}
	for k, a := range aggs {
		size += cost(k, a)
	}
	target := int64(math.MaxInt64)
	if p.opt.BPW > 0 {
		target = int64(math.Floor(p.opt.BPW * float64(p.elements) / 8))
		if size > target {
			return nil, p.impossible(size)
		}
	}
	// delta is the size change of moving tensor i to choice c.
	delta := func(i int, c Choice) int64 {
		old := p.options[i][cur[i]]
		d := p.tensorCost(i, c) - p.tensorCost(i, old)
		if old.PQ {
			k := optKey{old.Type, old.K}
			a := aggs[k]
			before := cost(k, a)
			add(i, old, -1)
			d += cost(k, a) - before
			add(i, old, 1)
		}
		if c.PQ {
			k := optKey{c.Type, c.K}
			a := get(k)
			before := cost(k, a)
			add(i, c, 1)
			d += cost(k, a) - before
			add(i, c, -1)
		}
		return d
	}
	for steps := 0; steps < 100*n+1000; steps++ {
		bi, bj, bScore, bDelta := -1, -1, 0.0, int64(0)
		for i := range p.tensors {
			if len(p.options[i]) < 2 {
				continue
			}
			dCur := p.distortion(i, p.options[i][cur[i]])
			for j, c := range p.options[i] {
				gain := dCur - p.distortion(i, c)
				if j == cur[i] || gain <= 0 {
					continue
				}
				ds := delta(i, c)
				if size+ds > target {
					continue
				}
				score := gain / float64(max(ds, 1))
				if ds <= 0 {
					score = math.Inf(1)
				}
				if bi < 0 || score > bScore || score == bScore && gain > p.distortion(bi, p.options[bi][cur[bi]])-p.distortion(bi, p.options[bi][bj]) {
					bi, bj, bScore, bDelta = i, j, score, ds
				}
			}
		}
		// Bulk moves: every tensor on one choice to another at once (a table
		// only pays off when many tensors share it, which single moves miss).
		var bulk []int
		var bulkScore float64
		for _, from := range distinctChoices(p.options, cur) {
			for _, to := range allChoices(p.options) {
				if to == from {
					continue
				}
				next := append([]int(nil), cur...)
				var gain float64
				moved := 0
				for i := range p.tensors {
					if p.options[i][cur[i]] != from {
						continue
					}
					for j, c := range p.options[i] {
						if c == to {
							next[i] = j
							gain += p.distortion(i, from) - p.distortion(i, to)
							moved++
						}
					}
				}
				if moved < 2 || gain <= 0 {
					continue
				}
				ns := p.sizeOf(next)
				if ns > target {
					continue
				}
				score := gain / float64(max(ns-size, 1))
				if ns <= size {
					score = math.Inf(1)
				}
				if score > bulkScore && score > bScore {
					bulk, bulkScore = next, score
				}
			}
		}
		if bulk != nil {
			for i := range cur {
				add(i, p.options[i][cur[i]], -1)
			}
			cur = bulk
			for i := range cur {
				add(i, p.options[i][cur[i]], 1)
			}
			size = p.sizeOf(cur)
			continue
		}
		if bi < 0 {
			break
		}
		add(bi, p.options[bi][cur[bi]], -1)
		add(bi, p.options[bi][bj], 1)
		cur[bi] = bj
		size += bDelta
	}
	if p.opt.BPW > 0 {
		cur = p.repair(cur, target)
	}
	out := make([]Choice, n)
	for i := range out {
		out[i] = p.options[i][cur[i]]
	}
	return out, nil
}

// sizeOf predicts the file size of a full assignment (the allocator's model).
func (p *planner) sizeOf(cur []int) int64 {
	size := p.baseSize
	aggs := map[optKey]*aggNum{}
	for i := range p.tensors {
		c := p.options[i][cur[i]]
		size += p.tensorCost(i, c)
		if !c.PQ {
			continue
		}
		k := optKey{c.Type, c.K}
		a := aggs[k]
		if a == nil {
			a = &aggNum{kinds: map[string]int{}}
			aggs[k] = a
		}
		t := &p.tensors[i].Info
		a.count++
		a.idxBytes += c.dataBytes(t)
		a.rows += int64(t.Rows())
		a.scaleBytes += p.scaleKeyBytes(i)
		a.kinds[p.kind(i)]++
	}
	for k, a := range aggs {
		size += p.aggCost(k, a.count, a.distinctKinds(), a.idxBytes, a.rows, a.scaleBytes)
	}
	return size
}

func distinctChoices(options [][]Choice, cur []int) []Choice {
	var out []Choice
	seen := map[Choice]bool{}
	for i := range cur {
		if c := options[i][cur[i]]; !seen[c] && len(options[i]) > 1 {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func allChoices(options [][]Choice) []Choice {
	var out []Choice
	seen := map[Choice]bool{}
	for _, os := range options {
		if len(os) < 2 {
			continue
		}
		for _, c := range os {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func (p *planner) impossible(minSize int64) error {
	minBPW := float64(minSize) * 8 / float64(p.elements)
	return fmt.Errorf("--bpw %g is not reachable for %s: the smallest file these options allow is about %d bytes = %.3f bits per weight (metadata alone is %.3f); use --bpw %.2f or more",
		p.opt.BPW, p.g.Path, minSize, minBPW, float64(p.baseSize)*8/float64(p.elements), math.Ceil(minBPW*100)/100)
}

// groups turns choices into tables: one per tensor, per kind or per model
// option, named as docs/FORMAT.md suggests.
func (p *planner) groups(choices []Choice) []GroupPlan {
	members := map[optKey][]int{}
	var keys []optKey
	for i, c := range choices {
		if !c.PQ {
			continue
		}
		k := optKey{c.Type, c.K}
		if members[k] == nil {
			keys = append(keys, k)
		}
		members[k] = append(members[k], i)
	}
	sort.Slice(keys, func(a, b int) bool {
		return keys[a].typ.ID < keys[b].typ.ID || keys[a].typ.ID == keys[b].typ.ID && keys[a].k < keys[b].k
	})
	var out []GroupPlan
	suffix := func(k optKey) string {
		s := fmt.Sprintf("%dx%d", k.typ.V, k.typ.IndexBits)
		if k.typ.Additive() {
			s = "a" + s
		}
		if k.k != k.typ.MaxK() {
			s += fmt.Sprintf(".k%d", k.k)
		}
		return s
	}
	kindOptions := map[string]int{}
	for _, k := range keys {
		seen := map[string]bool{}
		for _, i := range members[k] {
			kd := kindOf(p.tensors[i].Info.Name)
			if !seen[kd] {
				seen[kd] = true
				kindOptions[kd]++
			}
		}
	}
	for _, k := range keys {
		ms := members[k]
		var idx, rows int64
		kinds := map[string]bool{}
		for _, i := range ms {
			t := &p.tensors[i].Info
			idx += choices[i].dataBytes(t)
			rows += int64(t.Rows())
			kinds[kindOf(t.Name)] = true
		}
		lvl := p.level(k, len(ms), len(kinds), idx)
		rs := p.rowScaleFor(k, rows, idx)
		byName := map[string]int{}
		for _, i := range ms {
			t := &p.tensors[i].Info
			name, sharing := t.Name, "tensor"
			switch {
			case lvl == "kind":
				kd := kindOf(t.Name)
				name, sharing = "kind."+kd, "kind"
				if kindOptions[kd] > 1 {
					name += "." + suffix(k)
				}
			case lvl == "model":
				name, sharing = "model."+suffix(k), "model"
			}
			gi, ok := byName[name]
			if !ok {
				gi = len(out)
				byName[name] = gi
				out = append(out, GroupPlan{Name: name, Sharing: sharing, Type: k.typ, K: k.k, RowScale: rs})
			}
			out[gi].Members = append(out[gi].Members, i)
		}
	}
	return out
}
