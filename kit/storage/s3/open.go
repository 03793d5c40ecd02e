package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
)

func init() {
	storage.Register("s3", open)
}

// Limits of S3 multipart uploads (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
const (
	minPartSize    = 5 << 20
	maxPartSize    = 5 << 30
	maxUploadParts = 10000
	// DefaultPartSize and DefaultConcurrency bound a writer's buffers to part_size ×
	// concurrency = 20 MiB, so that a process moving a 1 GiB object stays under 64 MiB of
	// resident memory (docs/benchmarks.md). Objects of unknown size are then limited to
	// part_size × 10,000 parts = 48.8 GiB; raise part_size for larger streams.
	DefaultPartSize    = 5 << 20
	DefaultConcurrency = 4
)

// open builds a Driver from an s3://bucket/prefix URL. See the package documentation for the
// options.
func open(ctx context.Context, u *url.URL, opts *registry.Options) (storage.Driver, error) {
	var (
		region       = opts.String("region", "")
		endpoint     = opts.String("endpoint", "")
		pathStyleSet = opts.Has("path_style")
		pathStyle    = opts.Bool("path_style", false)
		profile      = opts.String("profile", "")
		accessKeyID  = opts.String("access_key_id", "")
		secretKey    = opts.String("secret_access_key", "")
		sessionToken = opts.String("session_token", "")
		partSize     = opts.Size("part_size", DefaultPartSize)
		concurrency  = opts.Int("concurrency", DefaultConcurrency, 1, 64)
		sse          = opts.Enum("sse", "", "AES256", "aws:kms", "aws:kms:dsse")
		kmsKeyID     = opts.String("sse_kms_key_id", "")
		storageClass = opts.Enum("storage_class", "", enumValues(types.StorageClass("").Values())...)
		cacheControl = opts.String("cache_control", "")
		acl          = opts.Enum("acl", "", enumValues(types.ObjectCannedACL("").Values())...)
		conditional  = opts.Enum("conditional_write", "header", "header", "check")
		checksums    = opts.Enum("checksums", "when_supported", "when_supported", "when_required")
	)
	var errs []error
	if err := opts.Err(); err != nil {
		errs = append(errs, err)
	}
	invalid := func(option, value, reason string) {
		errs = append(errs, &registry.OptionError{Option: option, Value: value, Reason: reason})
	}

	bucket := u.Host
	if bucket == "" {
		errs = append(errs, errors.New(`s3: the URL names no bucket (want s3://bucket/prefix)`))
	}
	if u.Port() != "" {
		errs = append(errs, fmt.Errorf("s3: bucket %q has a port; give the server as ?endpoint=http://host:port", bucket))
	}
	if partSize < minPartSize || partSize > maxPartSize {
		invalid("part_size", fmt.Sprint(partSize), "must be between 5MiB and 5GiB (S3's part size limits)")
	}
	if kmsKeyID != "" && !strings.HasPrefix(sse, "aws:kms") {
		invalid("sse_kms_key_id", kmsKeyID, "needs sse=aws:kms (or aws:kms:dsse)")
	}
	if endpoint != "" {
		e, err := url.Parse(endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			invalid("endpoint", endpoint, `not an http(s) URL (want e.g. "https://s3.example.com" or "http://127.0.0.1:9000")`)
		}
	}

	// Credentials: from the URL's userinfo, or its query, or else the standard AWS chain.
	if u.User != nil {
		if accessKeyID != "" || secretKey != "" {
			errs = append(errs, errors.New("s3: credentials given twice, as userinfo and as access_key_id/secret_access_key; give one"))
		}
		accessKeyID = u.User.Username()
		secretKey, _ = u.User.Password()
	}
	switch {
	case (accessKeyID == "") != (secretKey == ""):
		errs = append(errs, errors.New("s3: an access key needs both its ID and its secret (access_key_id and secret_access_key, or s3://ID:SECRET@bucket)"))
	case sessionToken != "" && accessKeyID == "":
		invalid("session_token", "", "needs access_key_id and secret_access_key")
	case accessKeyID != "" && profile != "":
		invalid("profile", profile, "cannot be combined with an access key in the URL")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	loadOpts := []func(*config.LoadOptions) error{
		config.WithLogger(sdkLogger{}),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			// A writer keeps concurrency part uploads in flight; keep their
			// connections for the next parts instead of redialling.
			t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*int(concurrency)+2)
		})),
	}
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(profile))
	}
	if accessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, sessionToken)))
	}
	if checksums == "when_required" {
		loadOpts = append(loadOpts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, errors.New("s3: no region: add ?region= to the URL or set AWS_REGION")
		}
		// S3-compatible servers mostly ignore the region but SigV4 needs one.
		cfg.Region = "us-east-1"
	}
	if !pathStyleSet {
		// Most S3-compatible servers (MinIO, versitygw, Ceph, a server on an IP address) are
		// addressed by path; AWS itself by virtual host.
		pathStyle = endpoint != ""
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	return NewDriver(client, bucket,
		WithPrefix(u.Path),
		WithPartSize(partSize),
		WithConcurrency(int(concurrency)),
		WithServerSideEncryption(sse, kmsKeyID),
		WithStorageClass(storageClass),
		WithCacheControl(cacheControl),
		WithACL(acl),
		WithCheckThenWrite(conditional == "check"),
		WithRequestChecksums(checksums == "when_supported"),
	)
}

func enumValues[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// sdkLogger sends the SDK's log lines (such as "Skipped validation of multipart checksum", which
// it prints on every read of a multipart object) to slog.Default() at debug level instead of
// stderr.
type sdkLogger struct{}

func (sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if l := slog.Default(); l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug(fmt.Sprintf(format, v...), "component", "aws-sdk", "sdk_level", string(c))
	}
}
