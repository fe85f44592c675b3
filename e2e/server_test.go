package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the repository root: this package lives in <root>/e2e.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// ollamaBin returns the patched ollama binary, or skips (fails under POCKET_E2E=1)
// when it has not been built.
func ollamaBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("POCKET_OLLAMA_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), "build", "ollama", "bin", "ollama")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("POCKET_E2E") == "1" {
			t.Fatalf("POCKET_E2E=1 but %s is missing: run scripts/build-ollama.sh", bin)
		}
		t.Skipf("%s not built (run scripts/build-ollama.sh, or set POCKET_OLLAMA_BIN)", bin)
	}
	return bin
}

// sharedTestdata returns <repo>/../shared/testdata/<rel>, skipping when absent.
func sharedTestdata(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s not found: %v", p, err)
	}
	return p
}

// server is one `ollama serve` on a free loopback port with its own model store and HOME.
type server struct {
	bin  string
	host string // 127.0.0.1:port
	env  []string
	log  string // path of the combined stdout/stderr of serve (and its runners)
	cmd  *exec.Cmd
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts `ollama serve`; newEngine sets OLLAMA_NEW_ENGINE=1, env adds variables
// ("K=V") that the server and its runners see. The server's whole process group (serve and its
// runner) is killed in t.Cleanup, also on failure, and its log is printed when the test failed.
func startServer(t testing.TB, newEngine bool, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{bin: ollamaBin(t), host: fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t)), log: filepath.Join(dir, "serve.log")}
	s.env = append(os.Environ(),
		"OLLAMA_HOST="+s.host,
		"OLLAMA_MODELS="+filepath.Join(dir, "models"),
		"HOME="+dir,
		"OLLAMA_NOHISTORY=1",
		"OLLAMA_NUM_PARALLEL=1",
		"OLLAMA_DEBUG=1", // the runner command line (engine choice) goes to the log
	)
	if newEngine {
		s.env = append(s.env, "OLLAMA_NEW_ENGINE=1")
	} else {
		s.env = append(s.env, "OLLAMA_NEW_ENGINE=0")
	}
	s.env = append(s.env, env...)
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		pgid := s.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-pgid, syscall.SIGKILL) // the runner too, even if serve is gone
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("ollama serve log (last 8 KiB):\n%s", tail(b, 8<<10))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.host + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			t.Fatalf("ollama serve exited before answering on %s", s.host)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve did not answer on %s within 60s: %v", s.host, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ollama runs the CLI against this server and returns its stdout; it fails the test
// with stderr on a non-zero exit.
func (s *server) ollama(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := s.ollamaErr(timeout, args...)
	if err != nil {
		t.Fatalf("ollama %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (s *server) ollamaErr(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return stdout.String(), fmt.Errorf("%w\nstderr: %s", err, tail(stderr.Bytes(), 4<<10))
	}
	return stdout.String(), nil
}

// serveLog returns what serve and its runners have logged so far.
func (s *server) serveLog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// create runs `ollama create name -f Modelfile` with a Modelfile whose FROM is gguf.
func (s *server) create(t testing.TB, name, gguf string) {
	t.Helper()
	mf := filepath.Join(t.TempDir(), "Modelfile")
	if err := os.WriteFile(mf, []byte(modelfile(gguf)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ollama(t, 2*time.Minute, "create", name, "-f", mf)
}

// modelfile is the Modelfile the README documents for stories260K-like models:
// llama2.c models are base models without tokenizer.chat_template, so the
// template passes the (last user) prompt through as plain text, and /api/chat
// continues it like /api/generate does. One thread: ggml's workers spin at each
// barrier, and on a shared 2-core CI machine two of them ran 1.7 tokens/s
// against 1574 for one (measured, stories260K).
func modelfile(gguf string) string {
	return fmt.Sprintf(`FROM %s
TEMPLATE """{{ .Prompt }}"""
PARAMETER temperature 0
PARAMETER seed 42
PARAMETER num_predict 40
PARAMETER num_ctx 256
PARAMETER num_thread 1
`, gguf)
}
