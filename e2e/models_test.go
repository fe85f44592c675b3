package e2e

import (
	"math"
	"strings"
	"testing"
)

// testModel is one GGUF the tests create in Ollama.
type testModel struct {
	name        string
	path        string
	quant       string   // what /api/show must report as quantization_level ("": not checked)
	tensorTypes []string // tensor types /api/show must list
	exact       bool     // greedy output must contain storiesGreedy
	role        string   // "pq": a PocketGGUF; "ref": the dense model it is compared with
	// nativeGreedy, when set, is the text `pocketgguf run` continues greedyPrompt with (24
	// tokens): the llama.cpp engine must begin with the same nativeWords words.
	nativeGreedy string
	// twin, when set, is the file `pocketgguf unpack --type f32` makes of this one.
	twin string
}

// nativeWords is how many words of a greedy text the llama.cpp engine must share with `pocketgguf
// run` on a file of the additive types: the same kernels give the same bits, but Ollama's runner
// sets up attention (context size, threads) otherwise, and the int8 activation tables leave
// near-ties that such differences flip after a dozen or more tokens; a wrong kernel or layout
// parts at once.
const nativeWords = 8

// sameFirstWords reports whether a and b begin with the same n words.
func sameFirstWords(a, b string, n int) bool {
	wa, wb := strings.Fields(a), strings.Fields(b)
	return len(wa) >= n && len(wb) >= n && strings.Join(wa[:n], " ") == strings.Join(wb[:n], " ")
}

// greedyPrompt is the prompt of the greedy checks.
const greedyPrompt = "Once upon a time"

// testModels returns the stock stories260K, and the PocketGGUF made from it plus
// its unpacked twin when pocketModels can make them.
func testModels(t testing.TB) []testModel {
	f32 := sharedTestdata(t, "models/stories260K.gguf")
	// stories260K has no general.file_type key, which Ollama reports as "unknown".
	ms := []testModel{{name: "stories-f32", path: f32, quant: "unknown", tensorTypes: []string{"F32"}, exact: true}}
	return append(ms, pocketModels(t, f32)...)
}

func pqPair(ms []testModel) (pq, ref testModel, ok bool) {
	var havePQ, haveRef bool
	for _, m := range ms {
		switch m.role {
		case "pq":
			pq, havePQ = m, true
		case "ref":
			ref, haveRef = m, true
		}
	}
	return pq, ref, havePQ && haveRef
}

// greedyTokens is how many tokens compareGreedy generates.
const greedyTokens = 32

// compareGreedy generates greedily from the PocketGGUF and from its unpacked
// (dense F32) twin in the same server. Both compute with the same weights, the PQ
// one through the LUT kernels; the first tokens must be the same, and their log
// probabilities close (logprobTolerance says why not equal).
func compareGreedy(t testing.TB, s *server, pq, ref testModel) {
	const prompt = "Once upon a time"
	_, a, _ := s.generate(t, pq.name, prompt, false, greedy(greedyTokens), true)
	_, b, _ := s.generate(t, ref.name, prompt, false, greedy(greedyTokens), true)
	if len(a.Logprobs) == 0 || len(b.Logprobs) == 0 {
		t.Fatalf("no logprobs returned (%d, %d)", len(a.Logprobs), len(b.Logprobs))
	}
	n := min(len(a.Logprobs), len(b.Logprobs))
	maxDiff := 0.0
	for i := 0; i < n; i++ {
		if a.Logprobs[i].Token != b.Logprobs[i].Token {
			t.Fatalf("token %d: %s gave %q, %s gave %q\n%s: %s\n%s: %s", i, pq.name, a.Logprobs[i].Token, ref.name, b.Logprobs[i].Token,
				pq.name, joinTokens(a.Logprobs), ref.name, joinTokens(b.Logprobs))
		}
		maxDiff = math.Max(maxDiff, math.Abs(a.Logprobs[i].Logprob-b.Logprobs[i].Logprob))
	}
	if len(a.Logprobs) != len(b.Logprobs) {
		t.Fatalf("%s gave %d tokens, %s %d", pq.name, len(a.Logprobs), ref.name, len(b.Logprobs))
	}
	t.Logf("%d greedy tokens equal; max |logprob difference| %.2g: %s", n, maxDiff, joinTokens(a.Logprobs))
	if maxDiff > logprobTolerance {
		t.Fatalf("max |logprob difference| %.3g > %.3g", maxDiff, logprobTolerance)
	}
}

// logprobTolerance bounds |log p_pq - log p_ref| of each chosen token. The two
// models hold the same weights (unpack rebuilds them with the same LUT rule) and
// differ only in float summation order (~1e-7 relative), but Ollama rounds twice
// on the way: the K/V cache is f16, and the Q8_0 token_embd/output (convert's
// default) quantize their activations to 8 bits, so a 1e-7 difference can flip a
// rounding step. Measured on stories260K, 32 greedy tokens: pq_2x8 (the test's
// model) 6.7e-6 (llama.cpp) and 0.0051 (Go engine) nats; pq_4x8 0.013 and 0.021,
// 0.0018 and 0.0015 with --output-tensor-type f32 --token-embedding-type f32
// (f16 K/V alone). A wrong table changes the tokens.
const logprobTolerance = 0.05

func joinTokens(lp []logprob) string {
	s := ""
	for _, l := range lp {
		s += l.Token
	}
	return s
}
