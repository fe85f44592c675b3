package ggmlext

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

// The PQ type table exists in several copies that no compiler holds together: format.PQTypes
// (Go), ggml-ext/src/types.c (C), the ggml enum and type_traits rows in patch 0001, the CPU
// rows and case lists in 0002, the loader's ftype list in 0003, and Ollama's table in its 0002.
// This test reads every copy and compares it, row by row, with format.PQTypes.

// typeRow is what every copy states about a type (block geometry; 0 where a copy does not say).
type typeRow struct {
	id          int
	name        string
	blck, bytes int
}

func (r typeRow) String() string {
	return fmt.Sprintf("id %d %q (block %d weights, %d bytes)", r.id, r.name, r.blck, r.bytes)
}

// patchFiles returns, for each file a patch touches, the lines on its new side (added and
// context lines), joined: for a new file its whole text, else the text around the hunks.
func patchFiles(patch string) map[string]string {
	files := map[string]string{}
	var cur string
	var b strings.Builder
	flush := func() {
		if cur != "" {
			files[cur] += b.String()
		}
		b.Reset()
	}
	inHunk := false
	for _, line := range strings.Split(patch, "\n") {
		if strings.HasPrefix(line, "diff --git ") {
			flush()
			f := strings.Fields(line)
			cur = strings.TrimPrefix(f[len(f)-1], "b/")
			inHunk = false
			continue
		}
		if strings.HasPrefix(line, "@@") {
			inHunk = true
			continue
		}
		if !inHunk || cur == "" {
			continue
		}
		if strings.HasPrefix(line, "+") || strings.HasPrefix(line, " ") {
			b.WriteString(line[1:])
			b.WriteByte('\n')
		}
	}
	flush()
	return files
}

// ggmlName turns an enum suffix (PQA_4X8) into the type name (pqa_4x8).
func ggmlName(enum string) string { return strings.ToLower(enum) }

var (
	reEnum       = regexp.MustCompile(`GGML_TYPE_(PQA?_[0-9A-Z]+)\s*=\s*(\d+),`)
	reCount      = regexp.MustCompile(`GGML_TYPE_COUNT\s*=\s*(\d+),`)
	reTraits     = regexp.MustCompile(`\[GGML_TYPE_(PQA?_[0-9A-Z]+)\]\s*=\s*\{\s*\.type_name\s*=\s*"([^"]*)",\s*\.blck_size\s*=\s*(\d+),\s*\.type_size\s*=\s*(\d+),`)
	reCPUTraits  = regexp.MustCompile(`\[GGML_TYPE_(PQA?_[0-9A-Z]+)\]\s*=\s*\{\s*\.vec_dot_type\s*=\s*GGML_TYPE_F32,`)
	reCase       = regexp.MustCompile(`case GGML_TYPE_(PQA?_[0-9A-Z]+):`)
	reIsPQ       = regexp.MustCompile(`ggml_cpu_is_pq\(enum ggml_type type\) \{\s*return type >= GGML_TYPE_(\w+) && type <= GGML_TYPE_(\w+);`)
	reOllama     = regexp.MustCompile(`(\d+):\s*\{"([^"]*)",\s*(\d+),\s*(\d+)\},`)
	reOllamaTest = regexp.MustCompile(`\{(\d+),\s*"([0-9A-Z_]+)",\s*(\d+),\s*(\d+)\}`)
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// copies are the sources under test, by repository path.
const (
	patch0001   = "patches/llama.cpp/0001-ggml-pq-types.patch"
	patch0002   = "patches/llama.cpp/0002-ggml-cpu-pq-ops.patch"
	patch0003   = "patches/llama.cpp/0003-llama-pocket-tables.patch"
	patchOllama = "patches/ollama/0002-fs-ggml-pq-tensor-types.patch"
)

const (
	ggmlH       = "ml/backend/ggml/ggml/include/ggml.h"
	ggmlC       = "ml/backend/ggml/ggml/src/ggml.c"
	ggmlQuants  = "ml/backend/ggml/ggml/src/ggml-quants.c"
	cpuC        = "ml/backend/ggml/ggml/src/ggml-cpu/ggml-cpu.c"
	cpuPQH      = "ml/backend/ggml/ggml/src/ggml-cpu/ggml-cpu-pq.h"
	opsCpp      = "ml/backend/ggml/ggml/src/ggml-cpu/ops.cpp"
	modelLoader = "llama/llama.cpp/src/llama-model-loader.cpp"
	ollamaTable = "fs/ggml/type_pq.go"
	ollamaTest  = "fs/ggml/type_pq_test.go"
)

// compareRows reports every difference between the reference rows and a copy's, naming the
// copy and the row. Fields a copy does not state (0 or "") are not compared.
func compareRows(copy string, want, got []typeRow) []string {
	var errs []string
	byID := map[int]typeRow{}
	for _, r := range got {
		if _, dup := byID[r.id]; dup {
			errs = append(errs, fmt.Sprintf("%s: id %d appears twice", copy, r.id))
		}
		byID[r.id] = r
	}
	for _, w := range want {
		g, ok := byID[w.id]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: no row for %v", copy, w))
			continue
		}
		delete(byID, w.id)
		if (g.name != "" && g.name != w.name) || (g.blck != 0 && g.blck != w.blck) || (g.bytes != 0 && g.bytes != w.bytes) {
			errs = append(errs, fmt.Sprintf("%s: row %v, format.PQTypes says %v", copy, g, w))
		}
	}
	var extra []int
	for id := range byID {
		extra = append(extra, id)
	}
	sort.Ints(extra)
	for _, id := range extra {
		errs = append(errs, fmt.Sprintf("%s: row %v that format.PQTypes does not have", copy, byID[id]))
	}
	return errs
}

// checkCopies compares every copy of the type table in the given sources (repository path ->
// contents) with format.PQTypes; it returns one message per difference.
func checkCopies(src map[string]string) []string {
	var want []typeRow
	for _, t := range format.PQTypes {
		want = append(want, typeRow{int(t.ID), t.Name, t.BlockSize(), t.TypeSize()})
	}
	var errs []string
	p1, p2, p3, po := patchFiles(src[patch0001]), patchFiles(src[patch0002]), patchFiles(src[patch0003]), patchFiles(src[patchOllama])

	// 0001 ggml.h: the enum (id, name) and GGML_TYPE_COUNT; the enum also names the ids the
	// other C copies refer to by symbol
	enumID := map[string]int{}
	var rows []typeRow
	for _, m := range reEnum.FindAllStringSubmatch(p1[ggmlH], -1) {
		enumID[m[1]] = atoi(m[2])
		rows = append(rows, typeRow{id: atoi(m[2]), name: ggmlName(m[1])})
	}
	errs = append(errs, compareRows(patch0001+" ggml.h enum", want, rows)...)
	if m := reCount.FindStringSubmatch(p1[ggmlH]); m == nil {
		errs = append(errs, patch0001+" ggml.h: no GGML_TYPE_COUNT")
	} else if last := want[len(want)-1].id; atoi(m[1]) != last+1 {
		errs = append(errs, fmt.Sprintf("%s ggml.h: GGML_TYPE_COUNT = %s, want %d (last PQ id + 1)", patch0001, m[1], last+1))
	}
	sym := func(copy, enum string) int {
		id, ok := enumID[enum]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: GGML_TYPE_%s is not in the enum of %s", copy, enum, patch0001))
			return -1
		}
		return id
	}
	// a list of GGML_TYPE_* symbols (case labels, rows without geometry) must name every type
	symbols := func(copy string, matches [][]string) {
		var rows []typeRow
		for _, m := range matches {
			rows = append(rows, typeRow{id: sym(copy, m[1]), name: ggmlName(m[1])})
		}
		errs = append(errs, compareRows(copy, want, rows)...)
	}

	// 0001 ggml.c: type_traits rows (name, block size, bytes)
	rows = nil
	for _, m := range reTraits.FindAllStringSubmatch(p1[ggmlC], -1) {
		rows = append(rows, typeRow{sym(patch0001+" ggml.c type_traits", m[1]), m[2], atoi(m[3]), atoi(m[4])})
		if ggmlName(m[1]) != m[2] {
			errs = append(errs, fmt.Sprintf("%s ggml.c type_traits: [GGML_TYPE_%s] has type_name %q", patch0001, m[1], m[2]))
		}
	}
	errs = append(errs, compareRows(patch0001+" ggml.c type_traits", want, rows)...)
	symbols(patch0001+" ggml-quants.c ggml_validate_row_data cases", reCase.FindAllStringSubmatch(p1[ggmlQuants], -1))

	// 0002: type_traits_cpu rows, get_rows cases, ggml_cpu_is_pq's range
	symbols(patch0002+" ggml-cpu.c type_traits_cpu", reCPUTraits.FindAllStringSubmatch(p2[cpuC], -1))
	symbols(patch0002+" ops.cpp get_rows cases", reCase.FindAllStringSubmatch(p2[opsCpp], -1))
	if m := reIsPQ.FindStringSubmatch(p2[cpuPQH]); m == nil {
		errs = append(errs, patch0002+" ggml-cpu-pq.h: ggml_cpu_is_pq is not a range check")
	} else if lo, hi := sym(patch0002+" ggml_cpu_is_pq", m[1]), sym(patch0002+" ggml_cpu_is_pq", m[2]); lo != want[0].id || hi != want[len(want)-1].id {
		errs = append(errs, fmt.Sprintf("%s ggml-cpu-pq.h: ggml_cpu_is_pq covers %d..%d, want %d..%d", patch0002, lo, hi, want[0].id, want[len(want)-1].id))
	}

	// 0003: the loader's ftype guess
	symbols(patch0003+" llama-model-loader.cpp ftype cases", reCase.FindAllStringSubmatch(p3[modelLoader], -1))

	// Ollama 0002: pqTypes and its test's expectations (names in upper case there)
	rows = nil
	for _, m := range reOllama.FindAllStringSubmatch(po[ollamaTable], -1) {
		rows = append(rows, typeRow{atoi(m[1]), m[2], atoi(m[3]), atoi(m[4])})
	}
	errs = append(errs, compareRows(patchOllama+" type_pq.go pqTypes", want, rows)...)
	rows = nil
	for _, m := range reOllamaTest.FindAllStringSubmatch(po[ollamaTest], -1) {
		rows = append(rows, typeRow{atoi(m[1]), strings.ToLower(m[2]), atoi(m[3]), atoi(m[4])})
	}
	errs = append(errs, compareRows(patchOllama+" type_pq_test.go", want, rows)...)
	return errs
}

func readSources(t *testing.T) map[string]string {
	t.Helper()
	src := map[string]string{}
	for _, p := range []string{patch0001, patch0002, patch0003, patchOllama} {
		b, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			t.Fatal(err)
		}
		src[p] = string(b)
	}
	return src
}

// The C table (src/types.c, as compiled into this package) against format.PQTypes, every field.
func TestCTypeTableMatchesFormat(t *testing.T) {
	rows, end := CTypes()
	if last := format.PQTypes[len(format.PQTypes)-1].ID; end != int(last)+1 {
		t.Errorf("GGML_PQ_TYPE_END = %d, want %d (last id of format.PQTypes + 1)", end, last+1)
	}
	if len(rows) != len(format.PQTypes) || rows[0].ID != int(format.PQTypes[0].ID) {
		t.Fatalf("C table has ids %d..%d, format.PQTypes %d..%d", rows[0].ID, rows[len(rows)-1].ID,
			format.PQTypes[0].ID, format.PQTypes[len(format.PQTypes)-1].ID)
	}
	for i, f := range format.PQTypes {
		c := rows[i]
		want := CType{ID: int(f.ID), Name: f.Name, V: f.V, Bits: f.IndexBits, BlockSize: f.BlockSize(), TypeSize: f.TypeSize(),
			Codebooks: f.Codebooks, MaxK: f.MaxK(), Additive: f.Additive()}
		if c != want {
			t.Errorf("ggml-ext/src/types.c row %+v\n  format.PQTypes says %+v", c, want)
		}
	}
}

// Every copy inside the patches against format.PQTypes.
func TestPatchTypeTablesMatchFormat(t *testing.T) {
	for _, e := range checkCopies(readSources(t)) {
		t.Error(e)
	}
}

// The check sees a disagreement in any copy: one changed field in each, in turn.
func TestPatchTypeTablesCheckFindsDifferences(t *testing.T) {
	good := readSources(t)
	for _, c := range []struct{ file, old, new, want string }{
		{patch0001, `"pqa_8x12",` + "\n+        .blck_size                = 16,", `"pqa_8x12",` + "\n+        .blck_size                = 8,", `"pqa_8x12" (block 8 weights`},
		{patch0001, "GGML_TYPE_PQA_8X16 = 111,", "GGML_TYPE_PQA_8X16 = 113,", "id 113"},
		{patch0001, "GGML_TYPE_COUNT   = 112,", "GGML_TYPE_COUNT   = 111,", "GGML_TYPE_COUNT = 111"},
		{patch0001, "+        case GGML_TYPE_PQA_8X12:\n", "", "ggml_validate_row_data cases: no row for id 110"},
		{patch0002, "+    [GGML_TYPE_PQA_4X12] = {", "+    [GGML_TYPE_PQ_4X12] = {", "type_traits_cpu: id 102 appears twice"},
		{patch0002, "type <= GGML_TYPE_PQA_8X16", "type <= GGML_TYPE_PQ_8X16", "covers 100..106"},
		{patch0003, "+            case GGML_TYPE_PQA_4X8:\n", "", "ftype cases: no row for id 107"},
		{patchOllama, `111: {"pqa_8x16", 8, 2}`, `111: {"pqa_8x16", 8, 1}`, `"pqa_8x16" (block 8 weights, 1 bytes)`},
	} {
		bad := map[string]string{}
		for k, v := range good {
			bad[k] = v
		}
		if !strings.Contains(bad[c.file], c.old) {
			t.Fatalf("%s no longer contains %q: update this test", c.file, c.old)
		}
		bad[c.file] = strings.Replace(bad[c.file], c.old, c.new, 1)
		errs := strings.Join(checkCopies(bad), "\n")
		if !strings.Contains(errs, c.want) {
			t.Errorf("%s with %q -> %q: want an error containing %q, got:\n%s", c.file, c.old, c.new, c.want, errs)
		}
	}
}
