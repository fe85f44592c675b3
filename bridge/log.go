package bridge

// #include "native.h"
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pocketgguf/pocketgguf/envconfig"
)

// LogLevel is ggml's log level (enum ggml_log_level).
type LogLevel int

const (
	LogDebug LogLevel = 1
	LogInfo  LogLevel = 2
	LogWarn  LogLevel = 3
	LogError LogLevel = 4
	logCont  LogLevel = 5 // continues the previous line's level
)

func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	}
	return fmt.Sprintf("level%d", int(l))
}

// EnvLogLevel names the environment variable that, when set to debug, info,
// warn or error, prints llama.cpp's log at that level and above to stderr.
var EnvLogLevel = envconfig.LlamaLog.Name

var logState struct {
	sync.Mutex
	fn      func(LogLevel, string)
	last    LogLevel
	seq     uint64   // count of warning and error lines so far
	errs    []string // most recent of them, for Go error messages
	pending strings.Builder
}

// SetLogger sends every llama.cpp/ggml log line to fn (nil: discard, the default
// unless POCKET_LLAMA_LOG is set). fn must not call back into this package.
func SetLogger(fn func(level LogLevel, line string)) {
	logState.Lock()
	logState.fn = fn
	logState.Unlock()
}

func init() {
	if v := envconfig.LlamaLog.Value(); v != "" {
		min := map[string]LogLevel{"debug": LogDebug, "info": LogInfo, "warn": LogWarn, "error": LogError}[strings.ToLower(v)]
		if min == 0 {
			min = LogInfo
		}
		SetLogger(func(l LogLevel, s string) {
			if l >= min {
				fmt.Fprintf(os.Stderr, "llama.cpp %s: %s\n", l, s)
			}
		})
	}
	C.pocket_log_to_go()
	C.llama_backend_init()
}

//export pocketGoLog
func pocketGoLog(level C.int, text *C.char) {
	l := LogLevel(level)
	s := C.GoString(text)
	logState.Lock()
	defer logState.Unlock()
	if l == logCont {
		l = logState.last
	} else if l != logState.last && logState.pending.Len() > 0 {
		// A new message at another level: what is pending was a whole line.
		logState.pending.WriteByte('\n')
		logLines(logState.last)
	}
	logState.last = l
	// llama.cpp logs pieces of a line; emit whole lines.
	logState.pending.WriteString(s)
	logLines(l)
}

// logLines emits the complete lines of logState.pending at level l.
func logLines(l LogLevel) {
	buf := logState.pending.String()
	for {
		i := strings.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(buf[:i])
		buf = buf[i+1:]
		if line == "" || strings.Trim(line, "=") == "" {
			continue
		}
		if l >= LogWarn {
			logState.seq++
			logState.errs = append(logState.errs, line)
			if len(logState.errs) > 16 {
				logState.errs = logState.errs[len(logState.errs)-16:]
			}
		}
		if logState.fn != nil {
			logState.fn(l, line)
		}
	}
	logState.pending.Reset()
	logState.pending.WriteString(buf)
}

// errMark returns a marker for llamaErrors: warning and error lines logged
// after it belong to the call that follows (best effort when calls run
// concurrently).
func errMark() uint64 {
	logState.Lock()
	defer logState.Unlock()
	return logState.seq
}

// llamaErrors joins the last few warning and error lines llama.cpp logged since
// mark, or "".
func llamaErrors(mark uint64) string {
	logState.Lock()
	defer logState.Unlock()
	n := min(int(logState.seq-mark), len(logState.errs), 4)
	if n <= 0 {
		return ""
	}
	return strings.Join(logState.errs[len(logState.errs)-n:], "; ")
}

// withLlamaErrors appends what llama.cpp logged since mark to msg.
func withLlamaErrors(msg string, mark uint64) error {
	if e := llamaErrors(mark); e != "" {
		return fmt.Errorf("%s (llama.cpp: %s)", msg, e)
	}
	return fmt.Errorf("%s", msg)
}
