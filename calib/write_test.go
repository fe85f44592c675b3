package calib

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestDatRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "im.dat")
	in := map[string][]float32{"blk.0.attn_q.weight": {1, 0.5, 2, 0}, "output.weight": {3, 4}}
	if err := WriteDat(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("read back %v, wrote %v", out, in)
	}
	if err := WriteDat(p, map[string][]float32{"x": {-1}}); err == nil {
		t.Error("negative importance accepted")
	}
}
