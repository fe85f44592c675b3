package converter

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// hashCovariances feeds the input covariances to a checkpoint fingerprint in
// name order, so --resume never mixes tensors assigned under other ones.
func hashCovariances(h io.Writer, cov map[string][]float64) {
	names := make([]string, 0, len(cov))
	for n := range cov {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "covariance %s %d\n", n, len(cov[n]))
		binary.Write(h, binary.LittleEndian, cov[n])
	}
}
