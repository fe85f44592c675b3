package reliability

import (
	"fmt"
	"os"
	"testing"
)

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return fmt.Sprintf("go build: %v\n%s", e.err, e.out) }

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "pocket-reliability-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
