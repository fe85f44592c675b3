package ggmlext

import (
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

func randomTable(rng *rand.Rand, v, k, d, blocks, hidden int) *format.Table {
	t := &format.Table{V: v, K: k, Latent: d, Blocks: blocks, Hidden: hidden}
	t.Codebook = make([]float32, k*d)
	for i := range t.Codebook {
		t.Codebook[i] = float32(rng.NormFloat64())
	}
	t.Decoder = make([]float32, t.DecoderLen())
	for i := range t.Decoder {
		t.Decoder[i] = float32(rng.NormFloat64() * 0.5)
	}
	return t
}

// The C table builder matches format.Table.BuildLUT within 1e-5 relative (FORMAT.md), for
// plain k-means tables and meta-network decoders of several shapes.
func TestBuildLUTMatchesFormat(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	cases := []struct{ v, k, d, b, h, rows int }{
		{4, 256, 4, 0, 0, 256},       // k-means shape (random Wo, not identity)
		{2, 200, 6, 1, 16, 256},      // K < 2^bits: padding rows
		{8, 4096, 16, 2, 64, 4096},   // 12-bit type
		{4, 1000, 32, 3, 128, 65536}, // 16-bit type, wide decoder
	}
	for _, c := range cases {
		tb := randomTable(rng, c.v, c.k, c.d, c.b, c.h)
		want := tb.BuildLUT(c.rows)
		got, err := BuildLUT(tb, c.rows)
		if err != nil {
			t.Fatal(err)
		}
		var maxAbs float64
		for _, x := range want {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		for i := range want {
			diff := math.Abs(float64(got[i] - want[i]))
			if diff > 1e-5*math.Max(math.Abs(float64(want[i])), 1e-3*maxAbs) {
				t.Fatalf("v=%d K=%d d=%d B=%d h=%d: lut[%d] = %v, Go reference %v", c.v, c.k, c.d, c.b, c.h, i, got[i], want[i])
			}
			if i >= c.k*c.v && got[i] != 0 {
				t.Fatalf("padding value %d = %v, want 0", i, got[i])
			}
		}
	}
}

func TestBuildLUTRefusesBadTables(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	tb := randomTable(rng, 4, 16, 4, 1, 8)
	tb.Decoder[3] = float32(math.Inf(1))
	if _, err := BuildLUT(tb, 256); err == nil {
		t.Fatal("accepted a decoder with +Inf")
	}
	tb = randomTable(rng, 4, 300, 4, 0, 0)
	if _, err := BuildLUT(tb, 256); err == nil {
		t.Fatal("accepted K = 300 for 8-bit indices")
	}
}

// buildAndRun compiles tests/test-kernels.c with cc and flags and runs it (through runner, if any).
func buildAndRun(t *testing.T, cc string, flags []string, runner []string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("%s not installed", cc)
	}
	srcs, _ := filepath.Glob("src/*.c")
	exe := filepath.Join(t.TempDir(), "test-kernels")
	cmdArgs := append(append([]string{"-O2"}, flags...), append(append([]string{"-o", exe, "tests/test-kernels.c"}, srcs...), "-lm")...)
	if out, err := exec.Command(cc, cmdArgs...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, cmdArgs, err, out)
	}
	run := append(append([]string{}, runner...), append([]string{exe}, args...)...)
	out, err := exec.Command(run[0], run[1:]...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("%v: %v", run, err)
	}
}

// The C kernel tests (every kernel against its scalar reference) in the SIMD build of this
// machine and in the scalar build.
func TestCKernelsNative(t *testing.T) {
	if runtime.GOARCH == "amd64" {
		buildAndRun(t, "cc", []string{"-Iinclude", "-mavx2", "-mfma", "-mf16c"}, nil)
	} else {
		buildAndRun(t, "cc", []string{"-Iinclude"}, nil)
	}
	buildAndRun(t, "cc", []string{"-Iinclude", "-DGGML_PQ_FORCE_SCALAR"}, nil)
}

// The NEON kernels, cross-built and run under qemu-user (rows up to 4096: emulation is slow).
func TestCKernelsAarch64(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("native arm64: TestCKernelsNative runs the NEON kernels")
	}
	if testing.Short() {
		t.Skip("-short: skipping the qemu run")
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Skip("qemu-aarch64 not installed (apt-get install qemu-user)")
	}
	if _, err := os.Stat("/usr/aarch64-linux-gnu/lib"); err != nil {
		t.Skip("no aarch64 sysroot at /usr/aarch64-linux-gnu (apt-get install gcc-aarch64-linux-gnu)")
	}
	buildAndRun(t, "aarch64-linux-gnu-gcc", []string{"-Iinclude", "-march=armv8.2-a"}, []string{qemu, "-L", "/usr/aarch64-linux-gnu"}, "quick")
}
