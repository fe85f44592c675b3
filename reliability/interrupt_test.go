package reliability

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The flags of the conversions below: k-means with one table per tensor, so
// a run has many steps (28 tables, then 31 tensors on the small preset) and
// can be stopped between them.
var convertFlags = []string{"convert", "--fast", "-q", "--threads", "1", "--method", "kmeans", "--sharing", "tensor", "--epochs", "8", "--seed", "3"}

// started runs cmd; the channel closes once it has exited (cmd.ProcessState set).
func started(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // the exit status is read from cmd.ProcessState
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return done
}

// waitFor polls cond every 20 ms until it holds, the process exits or
// 60 s pass; it reports whether cond held.
func waitFor(done <-chan struct{}, cond func() bool) bool {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-done:
			return cond()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

func entries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestSIGTERMKeepsExistingOutput: SIGTERM to the real binary while it
// writes over an existing OUT must leave OUT byte-identical, remove the
// temporary file, exit non-zero within the watchdog's few seconds and say so.
func TestSIGTERMKeepsExistingOutput(t *testing.T) {
	bin := pocketgguf(t)
	in := generate(t, "small")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.gguf")
	before := []byte("the user's previous model, which must survive")
	if err := os.WriteFile(out, before, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(convertFlags[:len(convertFlags):len(convertFlags)], in, out)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := started(t, cmd)
	tempSeen := waitFor(done, func() bool { return len(entries(dir)) > 1 })
	if !tempSeen {
		t.Fatalf("no temporary output appeared; stderr:\n%s", stderr.String())
	}
	time.Sleep(200 * time.Millisecond) // mid-training
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after SIGTERM")
	}
	took := time.Since(start)
	if cmd.ProcessState.Success() {
		t.Fatal("terminated convert exited 0")
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, before) {
		t.Fatalf("existing %s changed: %d bytes", out, len(got))
	}
	if names := entries(dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("stderr does not say interrupted:\n%s", stderr.String())
	}
	t.Logf("SIGTERM honoured in %s; %s untouched, no temporary file", took.Round(time.Millisecond), filepath.Base(out))
}

// TestResumeAfterKill: a --resume run stopped by SIGTERM and another killed
// with SIGKILL (no chance to clean up) both continue from OUT.partial/ and
// write exactly the bytes of an uninterrupted run; the checkpoints, and the
// temporary output a killed run leaves, are removed on success.
func TestResumeAfterKill(t *testing.T) {
	bin := pocketgguf(t)
	in := generate(t, "small")
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.gguf")
	if b, err := exec.Command(bin, append(convertFlags[:len(convertFlags):len(convertFlags)], in, ref)...).CombinedOutput(); err != nil {
		t.Fatalf("reference conversion: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(ref)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			odir := t.TempDir()
			out := filepath.Join(odir, "out.gguf")
			args := append(convertFlags[:len(convertFlags):len(convertFlags)], "--resume", in, out)
			cmd := exec.Command(bin, args...)
			done := started(t, cmd)
			// Stop it once a few tables are checkpointed.
			ok := waitFor(done, func() bool {
				m, _ := filepath.Glob(filepath.Join(out+".partial", "table-*.gob"))
				return len(m) >= 3
			})
			if !ok {
				t.Fatal("the run ended or stalled before checkpointing 3 tables")
			}
			cmd.Process.Signal(sig)
			<-done
			if _, err := os.Stat(out); err == nil {
				t.Fatal("an interrupted run wrote OUT")
			}
			ck, _ := filepath.Glob(filepath.Join(out+".partial", "*.gob"))
			var stale []string
			for _, n := range entries(odir) {
				if strings.HasPrefix(n, ".out.gguf.tmp-") {
					stale = append(stale, n)
				}
			}
			t.Logf("after %s: %d checkpoints kept; stale temporary outputs: %v", sig, len(ck), stale)
			if sig == syscall.SIGTERM && len(stale) > 0 {
				t.Fatalf("SIGTERM left temporary outputs %v", stale)
			}
			if sig == syscall.SIGKILL && len(stale) == 0 {
				t.Fatal("the killed run left no temporary output: nothing for the resumed run to clean up")
			}
			b, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("resumed run: %v\n%s", err, b)
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
				t.Fatal("resumed output differs from the uninterrupted conversion")
			}
			if _, err := os.Stat(out + ".partial"); err == nil {
				t.Fatal("checkpoints left after a successful resume")
			}
			// The killed run's temporary output (its process is gone) is removed
			// by the resumed run; nothing else is left beside OUT.
			if left := entries(odir); len(left) != 1 || left[0] != "out.gguf" {
				t.Fatalf("after the resumed run %s holds %v, want only out.gguf (stale before: %v)", odir, left, stale)
			}
		})
	}
}

// TestFullDisk: convert onto a full file system (a 64 KiB tmpfs when this
// runs as root, and a file-size limit RLIMIT_FSIZE in any case) fails with
// the system's reason and the output's name, leaves an existing OUT as it
// was and no temporary file.
func TestFullDisk(t *testing.T) {
	bin := pocketgguf(t)
	in := generate(t, "tiny")
	run := func(t *testing.T, dir string, wrap []string, want string) {
		out := filepath.Join(dir, "out.gguf")
		before := []byte("previous")
		if err := os.WriteFile(out, before, 0o644); err != nil {
			t.Fatal(err)
		}
		args := append(wrap, bin, "convert", "--fast", "-q", "--threads", "1", "--epochs", "2", in, out)
		b, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err == nil {
			t.Fatalf("convert onto a full disk succeeded:\n%s", b)
		}
		msg := string(b)
		if !strings.Contains(msg, want) || !strings.Contains(msg, "out.gguf") {
			t.Fatalf("error does not name the cause (%q) and the output:\n%s", want, msg)
		}
		if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
			t.Fatalf("crashed:\n%s", msg)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, before) {
			t.Fatal("existing OUT changed")
		}
		if names := entries(dir); len(names) != 1 {
			t.Fatalf("left behind: %v", names)
		}
		t.Logf("%s", strings.TrimSpace(msg))
	}
	t.Run("tmpfs", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
			t.Skipf("cannot mount a tmpfs (%v): needs root", err)
		}
		defer syscall.Unmount(dir, 0)
		run(t, dir, nil, "no space left on device")
	})
	t.Run("rlimit-fsize", func(t *testing.T) {
		// 64 blocks of 1 KiB (bash's ulimit -f unit); Go ignores SIGXFSZ, so
		// the write fails with EFBIG instead of killing the process.
		run(t, t.TempDir(), []string{"bash", "-c", `ulimit -f 64 && exec "$@"`, "bash"}, "file too large")
	})
}
