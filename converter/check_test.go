package converter

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// Check refuses what Convert would refuse, before any work, and its
// unreachable-bpw message names a --bpw that does convert.
func TestCheckAgreesWithConvert(t *testing.T) {
	in := stories(t)
	g, err := gguf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, prefer := range []Prefer{PreferSpeed, PreferQuality} {
		opt := Options{BPW: 0.3, Seed: 1, Prefer: prefer}
		err := Check(g, opt)
		if err == nil || !strings.Contains(err.Error(), "--bpw 0.3 is not reachable") {
			t.Fatalf("%s: Check(--bpw 0.3) = %v", prefer, err)
		}
		_, cerr := Convert(context.Background(), in, filepath.Join(t.TempDir(), "x.gguf"), opt)
		if cerr == nil || cerr.Error() != err.Error() {
			t.Fatalf("%s: Convert says %v, Check says %v", prefer, cerr, err)
		}
		m := regexp.MustCompile(`use --bpw ([0-9.]+) or more`).FindStringSubmatch(err.Error())
		if m == nil {
			t.Fatalf("no suggestion in %q", err)
		}
		var bpw float64
		fmt.Sscan(m[1], &bpw)
		opt.BPW = bpw
		if err := Check(g, opt); err != nil {
			t.Fatalf("%s: the suggested --bpw %v: %v", prefer, bpw, err)
		}
		res := convert(t, in, filepath.Join(t.TempDir(), "min.gguf"), opt)
		if res.BPW > bpw {
			t.Fatalf("%s: --bpw %v gave %.3f", prefer, bpw, res.BPW)
		}
	}
	if err := Check(g, Options{Sharing: "bogus"}); err == nil || !strings.Contains(err.Error(), "--sharing") {
		t.Fatalf("bad --sharing: %v", err)
	}
}
