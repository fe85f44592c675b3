package converter

import (
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/quant"
)

// TestParseTypedFlags: each Parse takes its flag's words and "" (the zero
// value, whose String names the default), and refuses anything else with
// the message that names the flag.
func TestParseTypedFlags(t *testing.T) {
	type parsed struct {
		val  string // what Parse returned, as its String
		err  error
		zero string // String of the zero value
	}
	parse := map[string]func(string) parsed{
		"--sharing": func(s string) parsed {
			v, err := ParseSharing(s)
			return parsed{v.String(), err, Sharing("").String()}
		},
		"--row-scale": func(s string) parsed {
			v, err := ParseRowScale(s)
			return parsed{v.String(), err, RowScale("").String()}
		},
		"--method": func(s string) parsed {
			v, err := ParseMethod(s)
			return parsed{v.String(), err, Method("").String()}
		},
		"--prefer": func(s string) parsed {
			v, err := ParsePrefer(s)
			return parsed{v.String(), err, Prefer("").String()}
		},
	}
	good := map[string][]string{
		"--sharing":   {"auto", "tensor", "kind", "model"},
		"--row-scale": {"auto", "on", "off"},
		"--method":    {"kmeans", "pocketllm"},
		"--prefer":    {"speed", "quality"},
	}
	zero := map[string]string{"--sharing": "auto", "--row-scale": "auto", "--method": quant.DefaultMethod, "--prefer": "quality"}
	want := map[string]string{
		"--sharing":   `--sharing "layer": want auto, tensor, kind or model`,
		"--row-scale": `--row-scale "layer": want auto, on or off`,
		"--method":    `--method "layer": want pocketllm or kmeans`,
		"--prefer":    `--prefer "layer": want speed or quality`,
	}
	for flag, f := range parse {
		for _, s := range good[flag] {
			if p := f(s); p.err != nil || p.val != s {
				t.Errorf("%s %s: got %q, %v", flag, s, p.val, p.err)
			}
		}
		if p := f(""); p.err != nil || p.val != zero[flag] || p.zero != zero[flag] {
			t.Errorf(`%s "": got %q (zero value %q), %v; want %q`, flag, p.val, p.zero, p.err, zero[flag])
		}
		if p := f("layer"); p.err == nil || p.err.Error() != want[flag] {
			t.Errorf("%s layer: got %v, want %s", flag, p.err, want[flag])
		}
		// A library caller's bad value is refused by the same message.
		var o Options
		switch flag {
		case "--sharing":
			o.Sharing = "layer"
		case "--row-scale":
			o.RowScale = "layer"
		case "--method":
			o.Method = "layer"
		case "--prefer":
			o.Prefer = "layer"
		}
		if err := o.check(); err == nil || !strings.Contains(err.Error(), want[flag]) {
			t.Errorf("check with %s layer: %v", flag, err)
		}
	}
}

// TestBudget: without --bpw there is no budget (any size fits, nothing is
// exceeded); with one, the bytes are floor(bpw·weights/8).
func TestBudget(t *testing.T) {
	var none Options
	if b := none.budget(); b.set() || b.bytes(1000) != 1<<63-1 || b.exceeded(1<<40, 1) {
		t.Fatalf("no --bpw: %+v", b)
	}
	o := Options{BPW: 2.5}
	b := o.budget()
	if !b.set() || b.bytes(1001) != 312 {
		t.Fatalf("--bpw 2.5 over 1001 weights: %d bytes", b.bytes(1001))
	}
	if b.exceeded(312, 1001) || !b.exceeded(313, 1001) {
		t.Fatal("--bpw 2.5: 312 bytes fit 1001 weights, 313 do not")
	}
}
