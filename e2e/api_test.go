package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// The wire types below hold only the fields the tests read; they are written
// against Ollama's documented JSON (docs/api.md), not its Go api package, so the
// tests check the HTTP API itself.

type logprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

type genResponse struct {
	Response     string    `json:"response"`
	Done         bool      `json:"done"`
	DoneReason   string    `json:"done_reason"`
	EvalCount    int       `json:"eval_count"`
	EvalDuration int64     `json:"eval_duration"` // ns
	Logprobs     []logprob `json:"logprobs"`
	Error        string    `json:"error"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	Message   chatMessage `json:"message"`
	Done      bool        `json:"done"`
	EvalCount int         `json:"eval_count"`
	Error     string      `json:"error"`
}

type showResponse struct {
	Details struct {
		Format            string `json:"format"`
		Family            string `json:"family"`
		QuantizationLevel string `json:"quantization_level"`
	} `json:"details"`
	Tensors []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"tensors"`
}

// greedy are the sampling options every comparison uses: temperature 0 picks the
// most likely token, the seed pins anything left.
func greedy(n int) map[string]any {
	return map[string]any{"temperature": 0, "seed": 42, "num_predict": n, "top_k": 1}
}

// post sends body as JSON to the server's path and calls each for every JSON
// object in the (possibly streamed, newline-delimited) answer.
func (s *server) post(t testing.TB, path string, body any, each func(line []byte)) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 3 * time.Minute}
	resp, err := c.Post("http://"+s.host+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", path, resp.Status, msg)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			each(bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("POST %s: reading answer: %v", path, err)
	}
}

// generate calls /api/generate and returns the whole text, the final (done) object
// and how many objects the answer held.
func (s *server) generate(t testing.TB, model, prompt string, stream bool, options map[string]any, logprobs bool) (string, genResponse, int) {
	t.Helper()
	var text string
	var last genResponse
	n := 0
	req := map[string]any{"model": model, "prompt": prompt, "stream": stream, "options": options}
	if logprobs {
		req["logprobs"] = true
	}
	s.post(t, "/api/generate", req, func(line []byte) {
		var r genResponse
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("/api/generate: bad JSON %q: %v", line, err)
		}
		if r.Error != "" {
			t.Fatalf("/api/generate: %s", r.Error)
		}
		n++
		text += r.Response
		if len(r.Logprobs) > 0 {
			last.Logprobs = append(last.Logprobs, r.Logprobs...)
		}
		if r.Done {
			lp := last.Logprobs
			last = r
			last.Logprobs = lp
		}
	})
	if !last.Done {
		t.Fatalf("/api/generate %s: answer never said done", model)
	}
	return text, last, n
}

func (s *server) chat(t testing.TB, model string, msgs []chatMessage, options map[string]any) (string, chatResponse) {
	t.Helper()
	var text string
	var last chatResponse
	s.post(t, "/api/chat", map[string]any{"model": model, "messages": msgs, "stream": true, "options": options}, func(line []byte) {
		var r chatResponse
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("/api/chat: bad JSON %q: %v", line, err)
		}
		if r.Error != "" {
			t.Fatalf("/api/chat: %s", r.Error)
		}
		text += r.Message.Content
		if r.Done {
			last = r
		}
	})
	if !last.Done {
		t.Fatalf("/api/chat %s: answer never said done", model)
	}
	return text, last
}

func (s *server) show(t testing.TB, model string) showResponse {
	t.Helper()
	var r showResponse
	n := 0
	s.post(t, "/api/show", map[string]any{"model": model, "verbose": true}, func(line []byte) {
		n++
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("/api/show: bad JSON: %v", err)
		}
	})
	if n != 1 {
		t.Fatalf("/api/show: %d JSON objects, want 1", n)
	}
	return r
}

// tokensPerSecond is Ollama's own eval rate: eval_count / eval_duration.
func (g genResponse) tokensPerSecond() float64 {
	if g.EvalDuration == 0 {
		return 0
	}
	return float64(g.EvalCount) / (float64(g.EvalDuration) / 1e9)
}

func (g genResponse) String() string {
	return fmt.Sprintf("%d tokens, %.1f tok/s, done_reason %s", g.EvalCount, g.tokensPerSecond(), g.DoneReason)
}
