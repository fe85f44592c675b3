// Package golden holds the pocketgguf command to the bytes it wrote when
// testdata/golden.txt was recorded: a fixed list of conversions, and unpack
// and inspect --json of each output. A refactor that changes no behaviour
// keeps every line; a change that means to alter output re-records with
//
//	go test ./golden/ -update            (or POCKET_GOLDEN_UPDATE=1)
//
// and says why in its commit. POCKET_LONG=1 adds the slower cases.
package golden

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pocketgguf/pocketgguf/testmodels"

	"github.com/pocketgguf/pocketgguf/envconfig"
)

var update = flag.Bool("update", envconfig.GoldenUpdate.Set(), "rewrite testdata/golden.txt from this run")

const goldenFile = "testdata/golden.txt"

// A conversion of one input model. Flags pin everything whose default could
// move without changing what the case means (threads do not change bytes;
// calibration size is kept small so the case stays fast).
type convCase struct {
	name  string
	model string // "stories260K" or a testmodels preset
	flags []string
	long  bool // POCKET_LONG=1 only
	// interrupt: run with --resume, stop it by SIGINT once OUT.partial/
	// holds checkpoints, then run it again to the end.
	interrupt bool
	// budget is --time-budget for a case of the default recipe; empty:
	// --fast, the conversion with only the steps its flags name.
	budget string
}

func (c convCase) recipe() []string {
	if c.budget == "" {
		return []string{"--fast"}
	}
	return []string{"--time-budget", c.budget}
}

var calib = []string{"--calib-self", "--calib-chunks", "2", "--calib-ctx", "32"}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var quality = []string{"--prefer", "quality"}

var cases = []convCase{
	{name: "default", model: "stories260K"},
	{name: "quality", model: "stories260K", flags: quality},
	{name: "bpw2.5", model: "stories260K", flags: []string{"--bpw", "2.5"}},
	{name: "bpw2.5-quality", model: "stories260K", flags: cat([]string{"--bpw", "2.5"}, quality)},
	{name: "bpw4-calib-quality", model: "stories260K", flags: cat([]string{"--bpw", "4"}, calib, quality)},
	{name: "bpw4-calib", model: "stories260K", flags: cat([]string{"--bpw", "4"}, calib), long: true},
	// stories260K's ffn_down rows (172) do not divide into 16: the refusal is the golden.
	{name: "v8b12", model: "stories260K", flags: []string{"--vec-len", "8", "--codebook-bits", "12"}},
	{name: "pocketllm", model: "stories260K", flags: []string{"--method", "pocketllm"}},
	{name: "tensor-sharing", model: "stories260K", flags: []string{"--sharing", "tensor"}, long: true},
	{name: "tensor-sharing-quality", model: "stories260K", flags: cat([]string{"--sharing", "tensor"}, quality)},
	{name: "resume-quality", model: "stories260K", flags: cat([]string{"--sharing", "tensor"}, quality), interrupt: true},
	{name: "resume", model: "stories260K", flags: []string{"--sharing", "tensor"}, interrupt: true, long: true},

	{name: "default", model: "tiny"},
	// The default recipe under a budget: self-calibration, GPTQ and the
	// fine-tuning epochs the budget buys (calibration pinned small).
	{name: "recipe", model: "tiny", flags: []string{"--bpw", "3", "--calib-chunks", "4", "--calib-ctx", "32"}, budget: "30s"},
	{name: "quality", model: "tiny", flags: quality},
	{name: "bpw2.5", model: "tiny", flags: []string{"--bpw", "2.5"}, long: true},
	{name: "bpw2.5-quality", model: "tiny", flags: cat([]string{"--bpw", "2.5"}, quality)},
	{name: "bpw4-calib", model: "tiny", flags: cat([]string{"--bpw", "4"}, calib), long: true},
	{name: "bpw4-calib-quality", model: "tiny", flags: cat([]string{"--bpw", "4"}, calib, quality), long: true},
	{name: "v8b12", model: "tiny", flags: []string{"--vec-len", "8", "--codebook-bits", "12"}},
	{name: "v8b12-quality", model: "tiny", flags: cat([]string{"--vec-len", "8", "--codebook-bits", "12"}, quality)},
	{name: "pocketllm", model: "tiny", flags: []string{"--method", "pocketllm"}, long: true},
	{name: "tensor-sharing-quality", model: "tiny", flags: cat([]string{"--sharing", "tensor"}, quality), long: true},
	{name: "resume-quality", model: "tiny", flags: cat([]string{"--sharing", "tensor"}, quality), interrupt: true, long: true},
}

func TestGolden(t *testing.T) {
	long := envconfig.Long.Set()
	bin := build(t)
	dir := t.TempDir()
	for _, m := range []string{"stories260K", "tiny"} {
		writeModel(t, m, filepath.Join(dir, m+".gguf"))
	}
	want := readGolden(t)
	got := map[string]string{}
	var mu sync.Mutex
	record := func(key, sum string) {
		mu.Lock()
		got[key] = sum
		mu.Unlock()
	}
	for _, m := range []string{"stories260K", "tiny"} {
		record(m+"/input", sha(t, filepath.Join(dir, m+".gguf")))
	}
	for _, c := range cases {
		if c.long && !long && !*update {
			continue
		}
		c := c
		t.Run(c.model+"/"+c.name, func(t *testing.T) {
			key := c.model + "/" + c.name
			out := strings.ReplaceAll(key, "/", "_") + ".gguf"
			flags := cat(c.recipe(), c.flags)
			args := cat([]string{"convert", "-q", "--threads", "2"}, flags, []string{c.model + ".gguf", out})
			if c.interrupt {
				interruptOnce(t, bin, dir, cat([]string{"convert", "-q", "--threads", "1", "--resume"}, flags, []string{c.model + ".gguf", out}), out)
				args = cat([]string{"convert", "-q", "--threads", "2", "--resume"}, flags, []string{c.model + ".gguf", out})
			}
			stdout, stderr, err := runIn(dir, bin, args...)
			if err != nil {
				// A refusal is a behaviour too: its message is the golden.
				record(key+"/convert-error", hashString(stderr))
				return
			}
			_ = stdout // holds the wall time, so it is not part of the golden
			record(key+"/convert", sha(t, filepath.Join(dir, out)))
			if _, err := os.Stat(filepath.Join(dir, out+".partial")); err == nil {
				t.Errorf("%s.partial/ left after a successful run", out)
			}
			js, stderr, err := runIn(dir, bin, "inspect", "--json", out)
			if err != nil {
				t.Fatalf("inspect: %v\n%s", err, stderr)
			}
			record(key+"/inspect", hashString(js))
			up := strings.TrimSuffix(out, ".gguf") + ".unpacked.gguf"
			if _, stderr, err := runIn(dir, bin, "unpack", "-q", out, up); err != nil {
				t.Fatalf("unpack: %v\n%s", err, stderr)
			}
			record(key+"/unpack", sha(t, filepath.Join(dir, up)))
			os.Remove(filepath.Join(dir, out))
			os.Remove(filepath.Join(dir, up))
		})
	}
	if *update {
		writeGolden(t, got, want)
		return
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("%s: no golden (record with -update)", k)
		case w != got[k]:
			t.Errorf("%s: sha256 %s, golden %s", k, got[k], w)
		}
	}
	// A resumed run writes the bytes of an uninterrupted one.
	for _, c := range cases {
		if !c.interrupt {
			continue
		}
		for _, other := range cases {
			if other.model == c.model && !other.interrupt && strings.Join(other.flags, " ") == strings.Join(c.flags, " ") {
				a, b := got[c.model+"/"+c.name+"/convert"], got[other.model+"/"+other.name+"/convert"]
				if a != "" && b != "" && a != b {
					t.Errorf("%s/%s: resumed output differs from %s", c.model, c.name, other.name)
				}
			}
		}
	}
}

// interruptOnce starts a --resume conversion and stops it with SIGINT once
// OUT.partial/ holds at least two checkpoints, leaving them for the next run.
func interruptOnce(t *testing.T, bin, dir string, args []string, out string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	partial := filepath.Join(dir, out+".partial")
	deadline := time.Now().Add(60 * time.Second)
	for {
		ents, _ := os.ReadDir(partial)
		if len(ents) >= 2 {
			cmd.Process.Signal(syscall.SIGINT)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("finished before it could be interrupted (err %v); stderr:\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoints in 60 s; stderr:\n%s", stderr.String())
		}
	}
	if err := <-done; err == nil {
		t.Fatalf("the interrupted run exited 0; stderr:\n%s", stderr.String())
	}
	if ents, _ := os.ReadDir(partial); len(ents) == 0 {
		t.Fatal("no checkpoints kept after the interruption")
	}
}

func writeModel(t *testing.T, name, path string) {
	t.Helper()
	if name == "stories260K" {
		b, err := os.ReadFile(filepath.Join(root(), "..", "shared", "testdata", "models", "stories260K.gguf"))
		if err != nil {
			t.Skipf("stories260K: %v", err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := testmodels.Generate(path, testmodels.Presets[name]); err != nil {
		t.Fatal(err)
	}
}

func root() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(here))
}

func build(t *testing.T) string {
	t.Helper()
	touchSources(t)
	bin := filepath.Join(t.TempDir(), "pocketgguf")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root(), "cli")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// touchSources stats every source file the binary is built from, so that
// go test's cache, which records the files a test looks at, reruns this
// test after any of them changed instead of reporting a stale pass.
func touchSources(t *testing.T) {
	t.Helper()
	r := root()
	os.Stat(filepath.Join(r, "build", "native", "lib", "libpocketllama.a"))
	err := filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != r && (n == "build" || strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".c", ".h", ".cpp", ".mod", ".sum":
			_, err = os.Stat(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runIn runs the binary with relative file names in dir, so paths in
// messages and in inspect's JSON do not depend on the temporary folder.
func runIn(dir, bin string, args ...string) (string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func readGolden(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	f, err := os.Open(goldenFile)
	if err != nil {
		if *update {
			return m
		}
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", goldenFile, line)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// writeGolden keeps lines of cases this run skipped (long ones without
// POCKET_LONG), so a short -update never drops them.
func writeGolden(t *testing.T, got, old map[string]string) {
	t.Helper()
	all := map[string]string{}
	for k, v := range old {
		all[k] = v
	}
	for k, v := range got {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString("# sha256 of pocketgguf's outputs (golden_test.go); go test ./golden/ -update rewrites it\n")
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s %s\n", k, all[k])
	}
	if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenFile, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
