package converter

import "testing"

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
