package converter

// A layout is one way to lay out tables: the sharing level and whether rows
// get scales. The allocator's error model (choice.go) assumes a table fitted
// to its own tensor; sharing one across tensors, and dropping row scales from
// a shared table, costs accuracy that model cannot see, so each layout
// carries a penalty on its PQ error estimates. Under --sharing auto and
// --row-scale auto every layout is allocated and the best estimate wins;
// the flags pin one.
type layout struct {
	sharing  Sharing  // auto (or zero): by table cost (planner.level)
	rowScale RowScale // auto (or zero): by scale cost (planner.rowScaleFor)
	penalty  float64
}

// layoutKey names a pinned layout in the penalty tables.
type layoutKey struct {
	sharing  Sharing
	rowScale RowScale
}

// layoutPenalty is the relative MSE of a layout over one table per tensor
// without row scales, measured on stories260K (k-means, every 2-D weight at
// one fixed type: `convert --compress-embeddings --vec-len V --codebook-bits 8
// --codebook-size K --sharing S --row-scale R`, mean over tensors of the
// stored rel_rmse²), geometric mean over v2 K256, v2 K16, v4 K256 and v4 K16.
// E.g. at v2 K256: tensor 0.00525, kind 0.00842 (0.00648 with scales), model
// 0.01689 (0.00750 with scales). On a larger model each table sees more data
// and its tensors differ as much, so the same figures are used there.
var layoutPenalty = map[layoutKey]float64{
	{SharingTensor, RowScaleOff}: 1.0,
	{SharingTensor, RowScaleOn}:  0.91,
	{SharingKind, RowScaleOff}:   1.37,
	{SharingKind, RowScaleOn}:    1.10,
	{SharingModel, RowScaleOff}:  2.38,
	{SharingModel, RowScaleOn}:   1.22,
}

// additiveLayoutPenalty is layoutPenalty for the additive types, measured
// the same way (stories260K, every 2-D weight pqa_4x8 with K = 16 and with
// K = 4 per codebook, geometric mean; e.g. K = 16: tensor 0.0971, kind
// 0.1198 (0.0932 with scales), model 0.2164 (0.1017 with scales)). With only
// M·K entries a table cannot follow the rows' magnitudes, so row scales
// matter more than for a free codebook, and sharing costs less: the sums
// already fit every tensor about equally badly.
var additiveLayoutPenalty = map[layoutKey]float64{
	{SharingTensor, RowScaleOff}: 1.0,
	{SharingTensor, RowScaleOn}:  0.87,
	{SharingKind, RowScaleOff}:   1.15,
	{SharingKind, RowScaleOn}:    0.93,
	{SharingModel, RowScaleOff}:  2.02,
	{SharingModel, RowScaleOn}:   0.99,
}

// layouts lists the layouts the flags allow, finest first. Without a budget
// every tensor's choice is fixed and the flags (auto: their cost rules)
// decide the layout.
func (p *planner) layouts() []layout {
	if !p.opt.budget().set() {
		return []layout{{sharing: p.opt.Sharing, rowScale: p.opt.RowScale, penalty: 1}}
	}
	shs := []Sharing{SharingTensor, SharingKind, SharingModel}
	if p.opt.Sharing.pinned() {
		shs = []Sharing{p.opt.Sharing}
	}
	rss := []RowScale{RowScaleOff, RowScaleOn}
	if p.opt.RowScale.pinned() {
		rss = []RowScale{p.opt.RowScale}
	}
	pen := layoutPenalty
	if p.opt.speed() {
		pen = additiveLayoutPenalty
	}
	var out []layout
	for _, sh := range shs {
		for _, rs := range rss {
			out = append(out, layout{sharing: sh, rowScale: rs, penalty: pen[layoutKey{sh, rs}]})
		}
	}
	return out
}
