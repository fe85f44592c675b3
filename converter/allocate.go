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

// aggNum summarises the tensors that use one PQ option (type, K): what its
// tables and row scales cost depends on these sums.
type aggNum struct {
	count          int
	idxBytes, rows int64
	scaleBytes     int64 // Σ pocket.tensor.<T>.scale key sizes, paid if row scales are on
	kinds          map[string]int
}

func (a *aggNum) distinctKinds() int { return len(a.kinds) }

// aggs are the aggregates of the PQ options a plan uses.
type aggs map[optKey]*aggNum

// get is k's aggregate, created empty if the plan has none yet.
func (m aggs) get(k optKey) *aggNum {
	a := m[k]
	if a == nil {
		a = &aggNum{kinds: map[string]int{}}
		m[k] = a
	}
	return a
}

// add adds (sign 1) or removes (sign -1) tensor i under choice c; dense
// choices have no aggregate.
func (m aggs) add(p *planner, i int, c Choice, sign int) {
	if !c.PQ {
		return
	}
	a := m.get(optKey{c.Type, c.K})
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

// level is the sharing an option's tensors get under the current layout: the
// pinned level, or under auto the finest level whose tables cost at most
// 1/16 of the indices they serve.
func (p *planner) level(k optKey, a *aggNum) Sharing {
	if mode := p.layout.sharing; mode.pinned() {
		return mode
	}
	tb := p.tableBytes(k)
	switch {
	case int64(a.count)*tb*16 <= a.idxBytes:
		return SharingTensor
	case int64(a.distinctKinds())*tb*16 <= a.idxBytes:
		return SharingKind
	}
	return SharingModel
}

// tables is how many tables an option needs at a sharing level. Under model
// sharing the embeddings join the shared table too: on small models a table
// of their own costs more than the error it saves.
func tables(level Sharing, a *aggNum) int {
	switch level {
	case SharingTensor:
		return a.count
	case SharingKind:
		return a.distinctKinds()
	}
	return 1
}

var groupNameFill = string(make([]byte, groupNameEstimate))

// aggCost is the bytes an option adds beyond its tensors' data: tables and row scales.
func (p *planner) aggCost(k optKey, a *aggNum) int64 {
	if a.count == 0 {
		return 0
	}
	c := int64(tables(p.level(k, a), a)) * p.tableBytes(k)
	if p.rowScaleFor(k, a.rows, a.idxBytes) {
		c += a.scaleBytes
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
	return alignUp(c.dataBytes(&p.tensors[i].Info), int64(p.g.Alignment))
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
	bestD, bestL := math.Inf(1), layout{}
	for _, l := range p.layouts() {
		p.layout, p.distCache = l, nil
		choices, err := p.allocateLayout()
		if err != nil {
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
		return nil, p.unreachable()
	}
	p.layout, p.distCache = bestL, nil
	return best, nil
}

// unreachable is the error when no layout fits --bpw: it names the smallest
// file any layout allows, which is the --bpw to ask for.
func (p *planner) unreachable() error {
	minSize := int64(math.MaxInt64)
	for _, l := range p.layouts() {
		p.layout, p.distCache = l, nil
		minSize = min(minSize, p.newSearch().size)
	}
	return p.impossible(minSize)
}

// allocateLayout is the greedy search under the current p.layout.
func (p *planner) allocateLayout() ([]Choice, error) {
	s := p.newSearch()
	if s.size > s.target {
		return nil, p.impossible(s.size)
	}
	for steps := 0; steps < 100*len(s.cur)+1000; steps++ {
		m, ok := s.bestMove()
		// A bulk move wins only over a better single one's score.
		if bulk := s.bestBulk(m.score); bulk != nil {
			s.set(bulk)
			continue
		}
		if !ok {
			break
		}
		s.apply(m)
	}
	if p.opt.budget().set() {
		s.repair()
	}
	out := make([]Choice, len(s.cur))
	for i := range out {
		out[i] = s.choice(i)
	}
	return out, nil
}

// search is one layout's greedy allocation: a choice per tensor (an index
// into p.options), the aggregates of the PQ options those use, and the file
// size the allocator's model predicts for them.
type search struct {
	p      *planner
	cur    []int
	aggs   aggs
	size   int64
	target int64 // the budget's bytes (no budget: any size)
}

// newSearch starts a search with every tensor at its smallest choice (ties:
// the smaller K, then the first listed).
func (p *planner) newSearch() *search {
	cur := make([]int, len(p.tensors))
	for i := range p.tensors {
		best := 0
		for j, c := range p.options[i] {
			cb, cj := p.tensorCost(i, p.options[i][best]), p.tensorCost(i, c)
			if cj < cb || cj == cb && c.K < p.options[i][best].K {
				best = j
			}
		}
		cur[i] = best
	}
	s := &search{p: p, target: p.opt.budget().bytes(p.elements)}
	s.set(cur)
	return s
}

// set makes cur the search's assignment, with aggregates and size computed
// afresh.
func (s *search) set(cur []int) {
	p := s.p
	s.cur, s.aggs, s.size = cur, aggs{}, p.baseSize
	for i := range p.tensors {
		c := s.choice(i)
		s.size += p.tensorCost(i, c)
		s.aggs.add(p, i, c, 1)
	}
	for k, a := range s.aggs {
		s.size += p.aggCost(k, a)
	}
}

// sizeOf predicts the file size of a full assignment (the allocator's model).
func (p *planner) sizeOf(cur []int) int64 {
	s := &search{p: p}
	s.set(cur)
	return s.size
}

// choice is tensor i's current choice.
func (s *search) choice(i int) Choice { return s.p.options[i][s.cur[i]] }

// delta is the size change of moving tensor i to choice c.
func (s *search) delta(i int, c Choice) int64 {
	p := s.p
	old := s.choice(i)
	d := p.tensorCost(i, c) - p.tensorCost(i, old)
	if old.PQ {
		d += s.aggDelta(i, old, -1)
	}
	if c.PQ {
		d += s.aggDelta(i, c, 1)
	}
	return d
}

// aggDelta is the change in c's table and scale bytes when tensor i joins
// (sign 1) or leaves (sign -1) it; the aggregates are left as they were.
func (s *search) aggDelta(i int, c Choice, sign int) int64 {
	k := optKey{c.Type, c.K}
	a := s.aggs.get(k)
	before := s.p.aggCost(k, a)
	s.aggs.add(s.p, i, c, sign)
	after := s.p.aggCost(k, a)
	s.aggs.add(s.p, i, c, -sign)
	return after - before
}

// move is one tensor's change of choice: tensor i to option j.
type move struct {
	i, j  int
	score float64 // gain per added byte (+Inf when no bytes are added)
	gain  float64 // drop in estimated error
	bytes int64   // size change
}

// bestMove is the single move with the largest error drop per added byte
// that still fits (ties: the larger gain, then the first found); false when
// no move lowers the error within the budget.
func (s *search) bestMove() (move, bool) {
	p := s.p
	best, found := move{}, false
	for i := range p.tensors {
		if len(p.options[i]) < 2 {
			continue
		}
		dCur := p.distortion(i, s.choice(i))
		for j, c := range p.options[i] {
			gain := dCur - p.distortion(i, c)
			if j == s.cur[i] || gain <= 0 {
				continue
			}
			ds := s.delta(i, c)
			if s.size+ds > s.target {
				continue
			}
			score := gain / float64(max(ds, 1))
			if ds <= 0 {
				score = math.Inf(1)
			}
			if !found || score > best.score || score == best.score && gain > best.gain {
				best, found = move{i, j, score, gain, ds}, true
			}
		}
	}
	return best, found
}

// apply takes a single move.
func (s *search) apply(m move) {
	s.aggs.add(s.p, m.i, s.choice(m.i), -1)
	s.aggs.add(s.p, m.i, s.p.options[m.i][m.j], 1)
	s.cur[m.i] = m.j
	s.size += m.bytes
}

// bestBulk is the best bulk move whose score beats minScore: every tensor on
// one choice moved to another at once (a table only pays off when many
// tensors share it, which single moves miss). It returns the whole new
// assignment, or nil.
func (s *search) bestBulk(minScore float64) []int {
	p := s.p
	var bulk []int
	var bulkScore float64
	for _, from := range distinctChoices(p.options, s.cur) {
		for _, to := range allChoices(p.options) {
			if to == from {
				continue
			}
			next := append([]int(nil), s.cur...)
			var gain float64
			moved := 0
			for i := range p.tensors {
				if s.choice(i) != from {
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
			if ns > s.target {
				continue
			}
			score := gain / float64(max(ns-s.size, 1))
			if ns <= s.size {
				score = math.Inf(1)
			}
			if score > bulkScore && score > minScore {
				bulk, bulkScore = next, score
			}
		}
	}
	return bulk
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
	ag := aggs{}
	for i, c := range choices {
		ag.add(p, i, c, 1)
	}
	for _, k := range keys {
		a := ag[k]
		lvl := p.level(k, a)
		rs := p.rowScaleFor(k, a.rows, a.idxBytes)
		byName := map[string]int{}
		for _, i := range members[k] {
			t := &p.tensors[i].Info
			name := t.Name
			switch lvl {
			case SharingKind:
				kd := kindOf(t.Name)
				name = "kind." + kd
				if kindOptions[kd] > 1 {
					name += "." + suffix(k)
				}
			case SharingModel:
				name = "model." + suffix(k)
			}
			gi, ok := byName[name]
			if !ok {
				gi = len(out)
				byName[name] = gi
				out = append(out, GroupPlan{Name: name, Sharing: lvl.String(), Type: k.typ, K: k.k, RowScale: rs})
			}
			out[gi].Members = append(out[gi].Members, i)
		}
	}
	return out
}
