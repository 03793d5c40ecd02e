package i18n

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/internal/testenv"
)

// The tests in this file hold Stackkit's PO and MO code against GNU gettext, the reference:
// every file of testdata/corpus (plurals for ru, ar, pl, ja; contexts; escapes; fuzzy and
// obsolete entries; long and multi-line strings) goes through msgcat, msgfmt and msgunfmt.

// gettextTool returns the path of a gettext program. Without gettext the test is skipped and
// recorded as such (`make services` installs it), and fails under CI=true.
func gettextTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Unavailable(t, "gettext", name+" is not installed (apt-get install gettext)")
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(gettextTool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func corpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.po")
	if err != nil || len(files) < 5 {
		t.Fatalf("corpus: %v %v", files, err)
	}
	return files
}

func parseFile(t *testing.T, path string) *POFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParsePOBytes(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// msgcat 0.21 drops the format flags it does not know (go-format) on output; everything else of
// Stackkit's output must be byte for byte msgcat's.
var goFormatFlag = regexp.MustCompile(`(?m)^#, (.*)$`)

func withoutGoFormat(b []byte) []byte {
	b = goFormatFlag.ReplaceAllFunc(b, func(line []byte) []byte {
		var keep []string
		for _, f := range strings.Split(string(line[3:]), ", ") {
			if f != "go-format" {
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			return []byte("\x00")
		}
		return []byte("#, " + strings.Join(keep, ", "))
	})
	return bytes.ReplaceAll(b, []byte("\x00\n"), nil)
}

func TestPOWriterMatchesMsgcat(t *testing.T) {
	for _, path := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := runTool(t, "msgcat", path)
			f := parseFile(t, path)
			got := f.Bytes()
			if !bytes.Equal(withoutGoFormat(got), want) {
				t.Errorf("output differs from msgcat's:\n%s", lineDiff(string(withoutGoFormat(got)), string(want)))
			}
			// Stable: parsing the output and writing it again gives the same bytes.
			again, err := ParsePOBytes(got, path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), got) {
				t.Errorf("second write differs:\n%s", lineDiff(string(again.Bytes()), string(got)))
			}
		})
	}
}

func TestMOWriterMatchesMsgfmt(t *testing.T) {
	dir := t.TempDir()
	for _, path := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := runTool(t, "msgfmt", "--check-format", "-o", "-", path)
			f := parseFile(t, path)
			compiled, err := Compile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MOBytes(compiled)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("MO differs from msgfmt's (%d vs %d bytes)", len(got), len(want))
			}
			// msgunfmt reads ours as it reads msgfmt's.
			ours := filepath.Join(dir, filepath.Base(path)+".ours.mo")
			theirs := filepath.Join(dir, filepath.Base(path)+".msgfmt.mo")
			if err := os.WriteFile(ours, got, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(theirs, want, 0o644); err != nil {
				t.Fatal(err)
			}
			if a, b := runTool(t, "msgunfmt", ours), runTool(t, "msgunfmt", theirs); !bytes.Equal(a, b) {
				t.Errorf("msgunfmt output differs:\n%s", lineDiff(string(a), string(b)))
			}
			// And we read msgfmt's file with the same content: writing it back gives its bytes,
			// and its entries are the compiled ones.
			read, err := ReadMO(want, theirs)
			if err != nil {
				t.Fatal(err)
			}
			back, err := MOBytes(read)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, want) {
				t.Errorf("re-writing msgfmt's MO changes it")
			}
			if len(read.Messages) != len(compiled.Messages) {
				t.Errorf("read %d messages from msgfmt's MO, compiled %d", len(read.Messages), len(compiled.Messages))
			}
			// msgunfmt's PO and ours of the read file agree.
			if a, b := runTool(t, "msgunfmt", theirs), read.Bytes(); !bytes.Equal(a, b) {
				t.Errorf("ReadMO+WriteTo differs from msgunfmt:\n%s", lineDiff(string(b), string(a)))
			}
		})
	}
}

func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			b.WriteString("line " + itoa(i+1) + ":\n  got:  " + gl + "\n  want: " + wl + "\n")
			if b.Len() > 2000 {
				break
			}
		}
	}
	return b.String()
}
