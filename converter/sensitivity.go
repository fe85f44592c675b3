package converter

// Per-weight sensitivity of the model's output to a tensor kind's
// reconstruction error: the allocator multiplies each tensor's estimated
// squared error by it, so bits go where they cut KL divergence most, not
// where they cut plain reconstruction error most (relative error is about the
// same for every kind at a given v and K, so an error-only allocator cannot
// tell the kinds apart).
//
// Source: docs/RESULTS.md, "Sensitivity: one tensor group at a time"
// (pocketgguf report --sensitivity, stories260K, 60 chunks). For each kind,
// mean KLD / (share of the model's weights × relative MSE), at v2 K16 and at
// v2 K256, normalised so the FFN kinds are 1, geometric mean of the two
// columns, rounded. The kinds are llama.cpp's tensor names, shared by its
// architectures; a kind not listed weighs 1 (the FFN's value: the generic
// fallback for unknown architectures).
var kindSensitivity = map[string]float64{
	"attn_k.weight":      4.2,
	Output:               4.0,
	"attn_v.weight":      2.5,
	"attn_qkv.weight":    2.0, // fused q, k, v: between attn_q and attn_k/attn_v
	"ffn_gate.weight":    1.0,
	"ffn_up.weight":      1.0,
	"ffn_down.weight":    1.0,
	"attn_q.weight":      0.6,
	"attn_output.weight": 0.4,
	TokenEmbd:            0.4,
}

// sensitivity is the weight of a tensor's squared error in the allocator.
func sensitivity(name string) float64 {
	if w, ok := kindSensitivity[kindOf(name)]; ok {
		return w
	}
	return 1
}
