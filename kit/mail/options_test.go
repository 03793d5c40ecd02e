package mail_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/registry"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestURLOptions(t *testing.T) {
	ctx := context.Background()
	_, err := mail.Open(ctx, "smtp://app:hunter2@mail.example.com?starttls=required&max_con=3")
	var oe *registry.OptionError
	if !errors.Is(err, mail.ErrInvalidOption) || !errors.As(err, &oe) || oe.Option != "max_con" || !strings.Contains(err.Error(), "max_conns") {
		t.Errorf("unknown option: %v, want an OptionError naming max_con and listing max_conns", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
	for _, bad := range []string{
		"smtp://host?max_conns=0", "smtp://host?timeout=fast", "smtp://host?auth=ntlm", "smtps://host?starttls=off",
		"smtp://host?tls_ca=/does/not/exist.pem", "smtp://host/path", "smtp://", "console://?stream=printer",
		"memory://?x=1", "smtp://host?default_from=not-an-address", "nosuch://x",
	} {
		if _, err := mail.Open(ctx, bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := mail.Open(ctx, "nosuch://x"); !errors.Is(err, registry.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	for _, s := range []string{"console", "file", "memory", "queue+memory", "smtp", "smtps"} {
		if !slices.Contains(mail.Schemes(), s) {
			t.Errorf("Schemes() = %v, missing %s", mail.Schemes(), s)
		}
	}
	m := openURL(t, "")
	if m.Backend() != "console" {
		t.Errorf("the default backend is %q, want console", m.Backend())
	}
	// Default ports show in connection errors: 587 for smtp://, 465 for smtps://.
	for url, port := range map[string]string{"smtp://127.0.0.1?starttls=off&dial_timeout=1s": ":587", "smtps://127.0.0.1?dial_timeout=1s": ":465"} {
		err := openURL(t, url).Ping(context.Background())
		if err == nil || !strings.Contains(err.Error(), port) {
			t.Errorf("%s: Ping = %v, want a connection error naming port %s", url, err, port)
		}
	}
}

func TestTelemetry(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s, _ := refusingServer(t)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off", mail.WithTracerProvider(tp), mail.WithMeterProvider(mp))
	bad := testMsg("")
	bad.To = []string{"nope"}
	partial := testMsg("")
	partial.Bcc = []string{"stale@example.com"}
	_ = m.Send(ctx10(t), testMsg(""), partial, bad)
	dead := openURL(t, "smtp://127.0.0.1:1?starttls=off", mail.WithTracerProvider(tp), mail.WithMeterProvider(mp))
	_ = dead.Send(ctx10(t), testMsg(""))

	ended := spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans, want one per message that reached a backend (3)", len(ended))
	}
	for _, sp := range ended[:2] {
		if sp.Name() != "mail.send" || !hasAttr(sp.Attributes(), "mail.backend", "smtp") {
			t.Errorf("span %s %v", sp.Name(), sp.Attributes())
		}
	}
	if ended[2].Status().Code.String() != "Error" || !hasAttr(ended[2].Attributes(), "error.type", "temporary") {
		t.Errorf("failed send span: status %v, attrs %v", ended[2].Status(), ended[2].Attributes())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if sum, ok := mt.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					counts[mt.Name] += dp.Value
				}
			}
		}
	}
	if counts["mail.messages.sent"] != 2 || counts["mail.messages.failed"] != 1 || counts["mail.recipients.refused"] != 1 {
		t.Errorf("counters = %v, want 2 sent (one of them partial), 1 failed, 1 recipient refused", counts)
	}
	if ended[1].Status().Code.String() == "Error" || len(ended[1].Events()) != 1 {
		t.Errorf("partial delivery span: status %v, %d events; want not an error, with the refusal recorded", ended[1].Status(), len(ended[1].Events()))
	}
}

func hasAttr(attrs []attribute.KeyValue, key, value string) bool {
	for _, a := range attrs {
		if string(a.Key) == key && a.Value.AsString() == value {
			return true
		}
	}
	return false
}
