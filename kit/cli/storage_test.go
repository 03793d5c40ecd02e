package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cli"
)

const storageSecret = "kitctl-storage-test-signing-key"

// fileStorageURL is a file:// storage in a fresh directory, with a base URL and a signing key.
func fileStorageURL(t *testing.T) string {
	return "file://" + filepath.ToSlash(t.TempDir()) + "?base_url=https://cdn.example.com/media/&secret=" + storageSecret
}

// kitctlIn runs kitctl with stdin.
func kitctlIn(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	root := cli.New()
	var out, errOut bytes.Buffer
	root.SetIn(stdin)
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := cli.ExecuteContext(context.Background(), root, args)
	return result{code, out.String(), errOut.String()}
}

// storageCommands runs the storage commands against the storage at u (one whose URL has a
// base_url and can sign) and checks what they print and do.
func storageCommands(t *testing.T, u string) {
	dir := t.TempDir()
	run := func(args ...string) result {
		t.Helper()
		return kitctl(t, append(append([]string{"storage"}, args...), "--storage-url", u))
	}
	local := filepath.Join(dir, "report.pdf")
	content := []byte("%PDF-1.7 report")
	if err := os.WriteFile(local, content, 0o644); err != nil {
		t.Fatal(err)
	}

	// put: a file, stdin, nested names.
	if r := run("put", local, "docs/report.pdf"); r.code != 0 || !strings.Contains(r.stdout, "put docs/report.pdf (15 bytes)") {
		t.Fatalf("put: %+v", r)
	}
	r := kitctlIn(t, strings.NewReader("from stdin"), "storage", "put", "-", "notes/a.txt", "--storage-url", u, "--cache-control", "no-store")
	if r.code != 0 {
		t.Fatalf("put -: %+v", r)
	}
	for _, n := range []string{"notes/b/c.txt", "top.txt"} {
		if r := run("put", local, n); r.code != 0 {
			t.Fatalf("put %s: %+v", n, r)
		}
	}
	// --no-clobber refuses an existing name with exit 1 and keeps it.
	if r := kitctlIn(t, strings.NewReader("new"), "storage", "put", "-", "notes/a.txt", "--no-clobber", "--storage-url", u); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("put --no-clobber over an object: %+v", r)
	}

	// ls: one level by default, like aws s3 ls, everything with -r.
	r = run("ls")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasSuffix(lines[0], "PRE docs/") || !strings.HasSuffix(lines[1], "PRE notes/") ||
		!strings.HasSuffix(lines[2], " 15 top.txt") || !strings.HasPrefix(lines[2], time.Now().UTC().Format("2006-")) {
		t.Errorf("ls:\n%s\n%+v", r.stdout, r)
	}
	if r = run("ls", "notes/"); r.code != 0 || !strings.Contains(r.stdout, " 10 notes/a.txt") || !strings.Contains(r.stdout, "PRE notes/b/") {
		t.Errorf("ls notes/:\n%s", r.stdout)
	}
	r = run("ls", "--recursive", "notes")
	if r.code != 0 || strings.Contains(r.stdout, "PRE") || !strings.Contains(r.stdout, "notes/a.txt") || !strings.Contains(r.stdout, "notes/b/c.txt") {
		t.Errorf("ls -r notes:\n%s", r.stdout)
	}

	// get: to a file (replaced whole), into a directory, to stdout.
	out := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(out, []byte("old content that is longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("get", "notes/a.txt", out); r.code != 0 {
		t.Fatalf("get: %+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "from stdin" {
		t.Errorf("get wrote %q", b)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o644 {
		t.Errorf("downloaded file mode %v, want 0644", fi.Mode().Perm())
	}
	if r := run("get", "docs/report.pdf", dir); r.code != 0 {
		t.Fatalf("get into a directory: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report.pdf")); !bytes.Equal(b, content) {
		t.Errorf("get into a directory wrote %q", b)
	}
	if r := run("get", "docs/report.pdf", "-"); r.code != 0 || r.stdout != string(content) {
		t.Errorf("get -: %+v", r)
	}
	// A missing object: exit 1, the destination untouched, no temporary file left.
	if r := run("get", "missing.txt", out); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("get of a missing object: %+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "from stdin" {
		t.Errorf("a failed get changed the destination: %q", b)
	}
	if entries, _ := os.ReadDir(dir); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.Contains(e.Name(), ".kitctl-") }) {
		t.Errorf("a temporary file was left: %v", entries)
	}

	// url: public and signed; the signed URL is fetched elsewhere, per backend.
	if r := run("url", "docs/report.pdf"); r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Errorf("url: %+v", r)
	}

	// Invalid names are usage errors (exit 2) that say why, and change nothing.
	for _, args := range [][]string{
		{"put", local, "../escape"}, {"put", local, "dir/"}, {"get", "/abs", out}, {"rm", "ok.txt", "a//b"},
		{"url", "bad\nname"}, {"ls", "/abs"},
	} {
		r := run(args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "invalid name") {
			t.Errorf("storage %s: exit %d, want 2 with the reason; stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}

	// rm: several names, a missing one is fine.
	if r := run("rm", "notes/a.txt", "notes/b/c.txt", "never-existed"); r.code != 0 || strings.Count(r.stdout, "deleted ") != 3 {
		t.Errorf("rm: %+v", r)
	}
	if r := run("ls", "-r", "notes/"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("ls after rm: %+v", r)
	}
}

func TestStorageCommandsFile(t *testing.T) {
	u := fileStorageURL(t)
	storageCommands(t, u)
	r := kitctl(t, []string{"storage", "url", "docs/report.pdf", "--signed", "--expires", "10m", "--storage-url", u})
	if r.code != 0 || !strings.HasPrefix(r.stdout, "https://cdn.example.com/media/docs/report.pdf?") {
		t.Errorf("url --signed: %+v", r)
	}
	if r := kitctl(t, []string{"storage", "url", "x", "--storage-url", "file://" + filepath.ToSlash(t.TempDir())}); r.code != 1 || !strings.Contains(r.stderr, "base_url") {
		t.Errorf("url without a base URL: %+v", r)
	}
}

func TestStorageUsageErrors(t *testing.T) {
	u := fileStorageURL(t)
	for _, args := range [][]string{
		{"storage", "put", "only-one"},
		{"storage", "get", "a", "b", "c"},
		{"storage", "rm"},
		{"storage", "ls", "a", "b"},
		{"storage", "url"},
		{"storage", "url", "x", "--signed", "--method", "DELETE"},
		{"storage", "url", "x", "--signed", "--expires", "0s"},
		{"storage", "url", "x", "--signed", "--expires", "200h"},
		{"storage", "url", "x", "--expires", "1m"},
		{"storage", "collectstatic"},
		{"storage", "collectstatic", "--from", "/does/not/exist"},
		{"storage", "put", t.TempDir(), "dir.bin"},
		{"storage", "lss"},
	} {
		r := kitctl(t, append(args, "--storage-url", u))
		if r.code != cli.ExitUsage {
			t.Errorf("kitctl %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func TestStorageURLSecretsNeverPrinted(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCY"
	for _, u := range []string{
		"s3://AKIDEXAMPLE:" + secret + "@bucket/p?endpoint=http://127.0.0.1:1&regoin=x",
		"s3://bucket/p?endpoint=http://127.0.0.1:1&access_key_id=AKID&secret_access_key=" + secret + "&part_size=1",
		"file:///tmp/x?secret=" + secret + "&bogus=1",
	} {
		for _, args := range [][]string{{"ls"}, {"get", "a", "-"}, {"url", "a"}} {
			r := kitctl(t, append(append([]string{"storage"}, args...), "--storage-url", u))
			if r.code == 0 {
				t.Errorf("storage %v with a bad URL succeeded", args)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("storage %v printed the secret: %q %q", args, r.stdout, r.stderr)
			}
		}
	}
	// Nor in help, from the environment.
	t.Setenv("KIT_STORAGE_URL", "s3://AKID:"+secret+"@bucket")
	if r := kitctl(t, []string{"storage", "--help"}); strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("help printed the secret")
	}
}

func TestStorageCollectstatic(t *testing.T) {
	u := fileStorageURL(t)
	app, vendor := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"app.css": "body { background: url(img.png) }", "img.png": "\x89PNG app", ".hidden": "x"})
	writeFiles(t, vendor, map[string]string{"img.png": "\x89PNG vendor", "lib.js": "console.log(1)"})
	run := func(args ...string) result {
		return kitctl(t, append([]string{"storage", "collectstatic", "--from", app, "--from", vendor, "--storage-url", u}, args...))
	}
	if r := run("--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "3 static files would be copied") {
		t.Fatalf("collectstatic --dry-run: %+v", r)
	}
	if r := kitctl(t, []string{"storage", "ls", "-r", "--storage-url", u}); strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("a dry run wrote: %s", r.stdout)
	}
	r := run("-v")
	if r.code != 0 || !strings.Contains(r.stdout, "3 static files copied") || !strings.Contains(r.stdout, "copied app.css") ||
		!strings.Contains(r.stderr, "img.png: found in several directories; using "+app) {
		t.Fatalf("collectstatic: %+v", r)
	}
	ls := kitctl(t, []string{"storage", "ls", "-r", "--storage-url", u}).stdout
	for _, want := range []string{"app.css", "img.png", "lib.js", "staticfiles.json"} {
		if !strings.Contains(ls, " "+want+"\n") {
			t.Errorf("collected storage lacks %s:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, ".hidden") {
		t.Errorf(".hidden was collected:\n%s", ls)
	}
	if g := kitctl(t, []string{"storage", "get", "img.png", "-", "--storage-url", u}); g.stdout != "\x89PNG app" {
		t.Errorf("the first --from did not win: %q", g.stdout)
	}
	if r := run(); r.code != 0 || !strings.Contains(r.stdout, "0 static files copied, 3 unmodified") {
		t.Errorf("second collectstatic: %+v", r)
	}
	// --clear deletes what was there first.
	if p := kitctlIn(t, strings.NewReader("stray"), "storage", "put", "-", "stray.txt", "--storage-url", u); p.code != 0 {
		t.Fatal(p)
	}
	if r := run("--clear"); r.code != 0 || !strings.Contains(r.stdout, "deleted") {
		t.Errorf("collectstatic --clear: %+v", r)
	}
	if ls := kitctl(t, []string{"storage", "ls", "-r", "--storage-url", u}).stdout; strings.Contains(ls, "stray.txt") {
		t.Errorf("--clear left stray.txt:\n%s", ls)
	}
}

// s3Env is the S3-compatible test server.
type s3Env struct{ endpoint, access, secret, region string }

func s3TestEnv(t *testing.T) s3Env {
	t.Helper()
	return s3Env{
		endpoint: testenv.Get(t, "KIT_TEST_S3_ENDPOINT"), access: testenv.Get(t, "KIT_TEST_S3_ACCESS_KEY"),
		secret: testenv.Get(t, "KIT_TEST_S3_SECRET_KEY"), region: testenv.Get(t, "KIT_TEST_S3_REGION"),
	}
}

const kitctlBucket = "kitctl-storage-test"

// url returns an s3:// URL under a prefix of its own in the test bucket (created if needed),
// emptied when the test ends.
func (e s3Env) url(t *testing.T, extra string) string {
	t.Helper()
	ctx := context.Background()
	c := awss3.New(awss3.Options{
		Region: e.region, BaseEndpoint: aws.String(e.endpoint), UsePathStyle: true, Logger: logging.Nop{},
		Credentials: credentials.NewStaticCredentialsProvider(e.access, e.secret, ""),
	})
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(kitctlBucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		t.Fatalf("create bucket: %v", err)
	}
	prefix := "t-" + strings.ToLower(rand.Text()[:10]) + "/"
	t.Cleanup(func() {
		p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(kitctlBucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return
			}
			for _, o := range page.Contents {
				_, _ = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(kitctlBucket), Key: o.Key})
			}
		}
	})
	q := url.Values{"endpoint": {e.endpoint}, "region": {e.region}, "access_key_id": {e.access}, "secret_access_key": {e.secret}}
	return "s3://" + kitctlBucket + "/" + prefix + "?" + q.Encode() + extra
}

func TestStorageCommandsS3(t *testing.T) {
	e := s3TestEnv(t)
	u := e.url(t, "&base_url=https://cdn.example.com/media/")
	storageCommands(t, u)

	// A presigned URL works with a plain HTTP client, and nothing printed the secret key.
	r := kitctl(t, []string{"storage", "url", "docs/report.pdf", "--signed", "--expires", "5m", "--storage-url", u})
	if r.code != 0 || !strings.Contains(r.stdout, "X-Amz-Signature=") {
		t.Fatalf("url --signed: %+v", r)
	}
	resp, err := http.Get(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "%PDF-1.7 report" {
		t.Errorf("GET presigned URL: %d %q", resp.StatusCode, body)
	}
	for _, args := range [][]string{{"ls", "-r"}, {"get", "missing", "-"}, {"ls", "/bad"}} {
		r := kitctl(t, append(append([]string{"storage"}, args...), "--storage-url", u))
		if strings.Contains(r.stdout+r.stderr, e.secret) {
			t.Errorf("storage %v printed the secret key: %q %q", args, r.stdout, r.stderr)
		}
	}
	// A signed PUT uploads.
	r = kitctl(t, []string{"storage", "url", "up.txt", "--signed", "--method", "put", "--content-type", "text/plain", "--storage-url", u})
	req, _ := http.NewRequest(http.MethodPut, strings.TrimSpace(r.stdout), strings.NewReader("via signed PUT"))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("signed PUT: %v %v", resp, err)
	}
	if g := kitctl(t, []string{"storage", "get", "up.txt", "-", "--storage-url", u}); g.stdout != "via signed PUT" {
		t.Errorf("after the signed PUT: %+v", g)
	}
}
