package gguf

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/fuzz/allocguard"
)

// TestHugeClaimsRefusedWithoutAllocating: headers that claim 2^60 keys,
// tensors, string bytes, array elements or weights, and one cut inside a
// tensor's dimension count, are refused with a reason and without
// allocating what they claim (allocguard: 64 bytes per input byte + 8 MiB).
func TestHugeClaimsRefusedWithoutAllocating(t *testing.T) {
	le := binary.LittleEndian
	u32 := func(b []byte, x uint32) []byte { return le.AppendUint32(b, x) }
	u64 := func(b []byte, x uint64) []byte { return le.AppendUint64(b, x) }
	str := func(b []byte, s string) []byte { return append(u64(b, uint64(len(s))), s...) }
	header := func(nTensors, nKV uint64) []byte { return u64(u64(u32([]byte(Magic), 3), nTensors), nKV) }
	const huge = 1 << 60
	tensor := func(dims ...uint64) []byte {
		b := str(header(1, 0), "w")
		b = u32(b, uint32(len(dims)))
		for _, d := range dims {
			b = u64(b, d)
		}
		return u64(u32(b, uint32(TypeF32)), 0)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"2^60 keys", header(0, huge), "metadata keys"},
		{"2^60 tensors", header(huge, 0), "tensors"},
		{"2^60-byte key", append(u64(header(0, 1), huge), "padding"...), "string of"},
		{"2^60-element array", u64(u32(u32(str(header(0, 1), "k"), uint32(ValArray)), uint32(ValFloat32)), huge), "array of"},
		{"2^60 weights", tensor(huge), "past the end"},
		{"2^90 weights", tensor(1<<30, 1<<30, 1<<30), "overflows"},
		{"ndims cut short", append(str(header(1, 0), "a_name_of_20_bytes__"), 0xFF, 0xFF, 0xFF), "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			allocguard.Check(t, len(c.data), func() { _, err = Parse(bytes.NewReader(c.data), int64(len(c.data))) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
