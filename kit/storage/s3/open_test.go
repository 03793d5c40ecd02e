package s3_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
	s3 "github.com/stackkit/stackkit/kit/storage/s3"
)

func TestSecretParamsAreSecret(t *testing.T) {
	for _, p := range []string{"secret_access_key", "session_token"} {
		if !registry.IsSecretParam(p) {
			t.Errorf("registry.IsSecretParam(%q) = false: the secret would show in errors and logs", p)
		}
	}
	got := registry.Redact("s3://AKID:wJalr%2FK7@bucket/p?secret_access_key=wJalr%2FK7&session_token=tok&access_key_id=AKID")
	if strings.Contains(got, "wJalr") || strings.Contains(got, "tok&") {
		t.Errorf("Redact = %s", got)
	}
}

func TestOpenErrors(t *testing.T) {
	const secret = "wJalrXUtnFEMI%2FK7MDENG"
	for _, c := range []struct {
		url  string
		want string
	}{
		{"s3:///prefix?region=eu-west-1", "names no bucket"},
		{"s3://bucket:9000/p?region=eu-west-1", "give the server as ?endpoint="},
		{"s3://bucket?region=eu-west-1&part_size=1MiB", `option "part_size"="1048576": must be between 5MiB and 5GiB`},
		{"s3://bucket?region=eu-west-1&part_size=6GiB", "must be between 5MiB and 5GiB"},
		{"s3://bucket?region=eu-west-1&concurrency=0", `option "concurrency"="0": out of range [1, 64]`},
		{"s3://bucket?region=eu-west-1&sse=DES", `option "sse"="DES": must be one of AES256, aws:kms, aws:kms:dsse`},
		{"s3://bucket?region=eu-west-1&sse_kms_key_id=k1", "needs sse=aws:kms"},
		{"s3://bucket?region=eu-west-1&storage_class=CHEAP", `option "storage_class"="CHEAP": must be one of`},
		{"s3://bucket?region=eu-west-1&acl=everyone", `option "acl"="everyone": must be one of`},
		{"s3://bucket?region=eu-west-1&conditional_write=maybe", "must be one of header, check"},
		{"s3://bucket?region=eu-west-1&endpoint=localhost:9000", `option "endpoint"="localhost:9000": not an http(s) URL`},
		{"s3://bucket?region=eu-west-1&regoin=x", `option "regoin": unknown option (valid options: access_key_id, acl, base_url, cache_control`},
		{"s3://bucket?region=eu-west-1&secret_access_key=" + secret, "an access key needs both its ID and its secret"},
		{"s3://AKID:" + secret + "@bucket?region=eu-west-1&access_key_id=AKID2&secret_access_key=" + secret, "credentials given twice"},
		{"s3://AKID:" + secret + "@bucket?region=eu-west-1&profile=dev", `option "profile"="dev": cannot be combined`},
		{"s3://bucket?region=eu-west-1&session_token=" + secret, `option "session_token": needs access_key_id`},
		{"s3://AKID:" + secret + "@bucket?region=eu-west-1&part_size=1", "must be between"},
	} {
		_, err := storage.Open(context.Background(), c.url)
		if err == nil {
			t.Errorf("Open(%s) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v\nwant it to contain %q", c.url, err, c.want)
		}
		if strings.Contains(err.Error(), "wJalr") {
			t.Errorf("Open(%s): the secret shows in the error: %v", c.url, err)
		}
	}
}

func TestOpenRegionAndCredentials(t *testing.T) {
	// No region anywhere and no endpoint: an error that says how to give one.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	if _, err := storage.Open(context.Background(), "s3://bucket"); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("Open without a region = %v", err)
	}
	t.Setenv("AWS_REGION", "eu-central-1")
	st, err := storage.Open(context.Background(), "s3://AKID:s%2Fcret@bucket/a/b/?path_style=false")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := st.Driver().(*s3.Driver)
	o := d.Client().Options()
	creds, err := o.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "s/cret" {
		t.Errorf("credentials from userinfo = %+v, %v", creds, err)
	}
	if o.Region != "eu-central-1" || o.UsePathStyle {
		t.Errorf("region %q, path style %v", o.Region, o.UsePathStyle)
	}
	if b, p := d.Bucket(); b != "bucket" || p != "a/b/" {
		t.Errorf("Bucket() = %q, %q", b, p)
	}
	if got := st.Driver().Capabilities(); got.Name != "s3" || got.MaxNameLen != 1024-4 {
		t.Errorf("Capabilities = %+v", got)
	}

	// An endpoint defaults to path-style addressing and us-east-1 when nothing sets a region.
	t.Setenv("AWS_REGION", "")
	st2, err := storage.Open(context.Background(), "s3://bucket?endpoint=http://127.0.0.1:1&access_key_id=A&secret_access_key=B")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	o = st2.Driver().(*s3.Driver).Client().Options()
	if o.Region != "us-east-1" || !o.UsePathStyle || *o.BaseEndpoint != "http://127.0.0.1:1" {
		t.Errorf("region %q, path style %v, endpoint %v", o.Region, o.UsePathStyle, *o.BaseEndpoint)
	}
}

func TestNewDriverErrors(t *testing.T) {
	if _, err := s3.NewDriver(nil, "b"); err == nil {
		t.Error("NewDriver(nil) succeeded")
	}
	srv := server{region: "us-east-1", endpoint: "http://127.0.0.1:1"}
	if _, err := s3.NewDriver(srv.client(), ""); err == nil {
		t.Error("NewDriver without a bucket succeeded")
	}
	if _, err := s3.NewDriver(srv.client(), "b", s3.WithPartSize(1)); err == nil {
		t.Error("NewDriver with a 1-byte part size succeeded")
	}
	d, err := s3.NewDriver(srv.client(), "b", s3.WithPrefix("/media/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, p := d.Bucket(); p != "media/" {
		t.Errorf("prefix = %q", p)
	}
	if _, err := storage.New(d); err != nil {
		t.Fatal(err)
	}
}
