package e2e

import (
	"path/filepath"
	"testing"
)

// BenchmarkOllamaEval measures Ollama's own generation rate (eval_count /
// eval_duration of /api/generate) of the PocketGGUF stories260K against its
// Q4_0 twin and the F32 original, all served by one server per engine, one
// thread each (Modelfile num_thread 1). README "Use with Ollama" has the table:
//
//	go test ./e2e -run '^$' -bench OllamaEval -benchtime 20x
func BenchmarkOllamaEval(b *testing.B) {
	ollamaBin(b)
	f32 := sharedTestdata(b, "models/stories260K.gguf")
	q4 := filepath.Join(b.TempDir(), "stories-q4_0.gguf")
	writeQ4_0Twin(b, f32, q4)
	models := []testModel{{name: "stories-f32", path: f32}, {name: "stories-q4_0", path: q4}}
	for _, m := range pocketModels(b, f32) {
		if m.role == "pq" {
			models = append(models, m)
		}
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			s := startServer(b, eng.new)
			for _, m := range models {
				s.create(b, m.name, m.path)
			}
			for _, m := range models {
				b.Run(m.name, func(b *testing.B) {
					s.generate(b, m.name, "Once upon a time", false, greedy(8), false) // load the model
					var tokens int
					var ns int64
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						_, r, _ := s.generate(b, m.name, "Once upon a time", false, benchOptions, false)
						tokens += r.EvalCount
						ns += r.EvalDuration
					}
					b.ReportMetric(float64(tokens)/(float64(ns)/1e9), "tok/s")
				})
			}
		})
	}
}

// benchOptions sample (fixed seed) rather than pick greedily: Ollama aborts a
// generation that repeats one token too often, which greedy decoding of the
// 4-bit stories260K variants soon does.
var benchOptions = map[string]any{"temperature": 0.8, "top_k": 40, "seed": 42, "num_predict": 128}
