package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// engines are the two ways Ollama runs a model: llama.cpp's libllama
// (runner/llamarunner, the default for llama models) and the Go engine
// (runner/ollamarunner, OLLAMA_NEW_ENGINE=1).
var engines = []struct {
	name string
	new  bool
}{
	{"llamacpp", false},
	{"ollamaengine", true},
}

// storiesGreedy is how stories260K continues "Once upon a time" greedily
// (COMMON facts: from BOS it begins " Once upon a time, there was a little girl
// named Lily."). Asserting it proves tokenizer, weights and sampling all work.
const storiesGreedy = "there was a little girl named Lily"

var wordRE = regexp.MustCompile(`[A-Za-z]+`)

func TestOllamaStories260K(t *testing.T) {
	ollamaBin(t)
	models := testModels(t)
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := startServer(t, eng.new)
			for _, m := range models {
				s.create(t, m.name, m.path)
			}
			for _, m := range models {
				t.Run(m.name, func(t *testing.T) { checkModel(t, s, m, eng.new) })
			}
			if pq, ref, ok := pqPair(models); ok {
				t.Run("greedy-"+pq.name+"-vs-"+ref.name, func(t *testing.T) { compareGreedy(t, s, pq, ref) })
				t.Run("broken-table", func(t *testing.T) { checkBrokenTable(t, s, pq) })
			}
			for _, m := range models {
				if m.role == "pqa" && m.twin != "" {
					t.Run(m.name+"-16-bit-tables-vs-twin", func(t *testing.T) { compareTwinWith16BitTables(t, m, eng.new) })
				}
			}
		})
	}
}

// checkModel runs one created model through the CLI and the HTTP API.
func checkModel(t *testing.T, s *server, m testModel, newEngine bool) {
	t.Run("cli-run", func(t *testing.T) {
		out := s.ollama(t, 3*time.Minute, "run", m.name, "Once upon a time")
		if len(wordRE.FindAllString(out, -1)) < 8 {
			t.Fatalf("ollama run printed %q, want a sentence", out)
		}
		if m.exact && !strings.Contains(out, storiesGreedy) {
			t.Fatalf("ollama run printed %q, want it to contain %q", out, storiesGreedy)
		}
	})

	// The runner now holds the model: its command line says which engine loaded it.
	t.Run("engine", func(t *testing.T) {
		log := s.serveLog(t)
		var runner string
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "starting runner") && strings.Contains(line, "--model") {
				runner = line
			}
		}
		if runner == "" {
			t.Fatal("no 'starting runner ... --model' line in the serve log")
		}
		if got := strings.Contains(runner, "--ollama-engine"); got != newEngine {
			t.Fatalf("runner line %q: Go engine %v, want %v (a model the Go engine cannot load falls back to llama.cpp)", runner, got, newEngine)
		}
	})

	t.Run("generate", func(t *testing.T) {
		text, final, n := s.generate(t, m.name, "Once upon a time", false, greedy(24), false)
		if n != 1 || final.EvalCount == 0 || final.EvalDuration == 0 {
			t.Fatalf("non-streaming answer: %d objects, %v", n, final)
		}
		stext, sfinal, sn := s.generate(t, m.name, "Once upon a time", true, greedy(24), false)
		if sn < 3 {
			t.Fatalf("streaming answer came in %d objects, want one per token", sn)
		}
		if stext != text || sfinal.EvalCount != final.EvalCount {
			t.Fatalf("greedy text differs between stream and not:\n  %q (%d tokens)\n  %q (%d tokens)", stext, sfinal.EvalCount, text, final.EvalCount)
		}
		if m.exact && !strings.Contains(text, storiesGreedy) {
			t.Fatalf("generated %q, want it to contain %q", text, storiesGreedy)
		}
		if m.nativeGreedy != "" && !newEngine && !sameFirstWords(text, m.nativeGreedy, nativeWords) {
			t.Fatalf("generated %q; pocketgguf run of the same file gave %q (same kernels: the first %d words must agree)", text, m.nativeGreedy, nativeWords)
		}
		t.Logf("%s: %q (%v)", m.name, text, final)
	})

	t.Run("chat", func(t *testing.T) {
		text, final := s.chat(t, m.name, []chatMessage{{Role: "user", Content: "Once upon a time"}}, greedy(24))
		if final.EvalCount == 0 || len(wordRE.FindAllString(text, -1)) < 5 {
			t.Fatalf("chat answered %q (%d tokens)", text, final.EvalCount)
		}
		// With TEMPLATE {{ .Prompt }} a chat turn is the same text as a generate prompt.
		gen, _, _ := s.generate(t, m.name, "Once upon a time", false, greedy(24), false)
		if text != gen {
			t.Fatalf("chat %q != generate %q under the pass-through template", text, gen)
		}
	})

	t.Run("show", func(t *testing.T) {
		r := s.show(t, m.name)
		if (m.quant != "" && r.Details.QuantizationLevel != m.quant) || r.Details.Format != "gguf" || r.Details.Family != "llama" {
			t.Fatalf("/api/show details %+v, want quantization_level %q, format gguf, family llama", r.Details, m.quant)
		}
		types := map[string]int{}
		for _, tt := range r.Tensors {
			types[tt.Type]++
		}
		if types["unknown"] > 0 || len(r.Tensors) == 0 {
			t.Fatalf("/api/show tensor types %v", types)
		}
		if m.role != "pq" {
			for ty := range types {
				if strings.HasPrefix(ty, "PQ_") {
					t.Fatalf("/api/show tensor types %v: PQ tensors in a dense model", types)
				}
			}
		}
		for _, want := range m.tensorTypes {
			if types[want] == 0 {
				t.Fatalf("/api/show tensor types %v, want some %s", types, want)
			}
		}
		t.Logf("%s: quantization_level %s, tensor types %v", m.name, r.Details.QuantizationLevel, types)
	})
}

// checkBrokenTable serves a copy of the PocketGGUF whose first table key is
// misspelt (same length, so the file stays a valid GGUF): loading must fail with
// the runner's reason, naming tensor and key, on both engines, and the server
// must go on serving the intact model.
func checkBrokenTable(t *testing.T, s *server, pq testModel) {
	b, err := os.ReadFile(pq.path)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("pocket.tensor.blk.0.attn_q.weight.table")
	if bytes.Count(b, key) != 1 {
		t.Fatalf("%s: key %s found %d times, want once", pq.path, key, bytes.Count(b, key))
	}
	broken := filepath.Join(t.TempDir(), "broken.gguf")
	if err := os.WriteFile(broken, bytes.Replace(b, key, append(key[:len(key)-1:len(key)-1], 'X'), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	s.create(t, "stories-pq-broken", broken)
	before := len(s.serveLog(t))
	_, err = s.ollamaErr(2*time.Minute, "run", "stories-pq-broken", "Once upon a time")
	if err == nil {
		t.Fatal("ollama run of a PocketGGUF without its table key succeeded")
	}
	// The runner refuses the file naming the tensor and the key, and Ollama's
	// error relays that line (patches/ollama 0005: the server reads all of the
	// runner's output before it reports the exit; without it the error was a
	// bare "exit status 2" in about one run of four).
	runnerLog := s.serveLog(t)[before:]
	for _, want := range []string{"tensor 'blk.0.attn_q.weight' (pq_", "key 'pocket.tensor.blk.0.attn_q.weight.table' is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("ollama run of a PocketGGUF without its table key: %v; want the error to contain %q\nrunner log:\n%s", err, want, runnerLog)
		}
	}
	if text, _, _ := s.generate(t, pq.name, "Once upon a time", false, greedy(8), false); len(wordRE.FindAllString(text, -1)) < 3 {
		t.Fatalf("after the failed load, %s generated %q", pq.name, text)
	}
}

// compareTwinWith16BitTables runs a file of the additive types in a server whose runners use
// 16-bit activation tables (GGML_PQA_TABLE_BITS=16): its greedy tokens must then be its
// unpacked twin's, as for the PQ types. With the 8-bit default they part after a dozen or more
// tokens (nativeWords says why).
func compareTwinWith16BitTables(t *testing.T, m testModel, newEngine bool) {
	s := startServer(t, newEngine, "GGML_PQA_TABLE_BITS=16")
	twin := testModel{name: m.name + "-unpacked", path: m.twin, role: "ref"}
	s.create(t, m.name, m.path)
	s.create(t, twin.name, twin.path)
	compareGreedy(t, s, m, twin)
}
