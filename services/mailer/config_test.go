package mailer_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/services/mailer"
)

func TestConfigDefaults(t *testing.T) {
	c, err := mailer.ConfigFromEnv([]string{"PATH=/bin", "KIT_CACHE_URL=memory://"})
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueURL != "nats+embedded://.kit/nats" || c.MailURL != "console://" || c.HTTPAddr != ":8080" ||
		c.Subject != "kit.mail" || c.Consumer != "mailer" || c.Concurrency != 4 || c.MaxDeliveries != 10 ||
		c.AckWait != 30*time.Second || c.SendTimeout != 25*time.Second || c.DrainTimeout != 30*time.Second ||
		!slices.Equal(c.Backoff, mailer.DefaultBackoff) {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigValues(t *testing.T) {
	c, err := mailer.ConfigFromEnv([]string{
		"KIT_QUEUE_URL=nats://nats:4222", "KIT_MAIL_URL=smtps://a:b@smtp.example.com", "KIT_HTTP_ADDR=127.0.0.1:9090",
		"KIT_MAIL_SUBJECT=app.mail", "KIT_MAIL_CONSUMER=mailer-eu", "KIT_MAIL_CONCURRENCY=16",
		"KIT_MAIL_MAX_DELIVERIES=3", "KIT_MAIL_BACKOFF=1s, 10s,1m", "KIT_MAIL_ACK_WAIT=1m",
		"KIT_MAIL_SEND_TIMEOUT=5s", "KIT_MAIL_DRAIN_TIMEOUT=40s", "KIT_MAIL_CHECK_TIMEOUT=500ms", "KIT_LOG_LEVEL=debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 16 || c.MaxDeliveries != 3 || !slices.Equal(c.Backoff, []time.Duration{time.Second, 10 * time.Second, time.Minute}) ||
		c.AckWait != time.Minute || c.SendTimeout != 5*time.Second || c.DrainTimeout != 40*time.Second ||
		c.CheckTimeout != 500*time.Millisecond || c.LogLevel.String() != "DEBUG" || c.Consumer != "mailer-eu" {
		t.Errorf("values: %+v", c)
	}
}

func TestConfigErrorsNameEveryBadVariable(t *testing.T) {
	_, err := mailer.ConfigFromEnv([]string{
		"KIT_MAIL_CONCURRENCY=lots", "KIT_MAIL_CONCURENCY=4", "KIT_MAIL_BACKOFF=1s,soon", "KIT_MAIL_ACK_WAIT=30",
		"KIT_LOG_LEVEL=loud", "KIT_MAIL_URL=queue+nats://user:s3cret@nats:4222",
	})
	if !errors.Is(err, mailer.ErrConfig) || mailer.ExitCode(err) != mailer.ExitConfig {
		t.Fatalf("want a configuration error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`KIT_MAIL_CONCURRENCY: "lots": want a whole number`,
		"KIT_MAIL_CONCURENCY: unknown variable (known: KIT_MAIL_URL",
		`KIT_MAIL_BACKOFF: "1s,soon": "soon": not a duration`,
		`KIT_MAIL_ACK_WAIT: "30": duration needs a unit`,
		`KIT_LOG_LEVEL: "loud"`,
		"KIT_MAIL_URL: is a queued mailer",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error shows the password:\n%s", msg)
	}
	if _, err := mailer.ConfigFromEnv([]string{"KIT_MAIL_SEND_TIMEOUT=1m"}); err == nil || !strings.Contains(err.Error(), "longer than KIT_MAIL_DRAIN_TIMEOUT") {
		t.Errorf("a send timeout beyond the drain timeout: %v", err)
	}
}

// TestStartFailures runs the binary with bad configurations: each exits non-zero with one JSON
// log line that says what is wrong and shows no secret.
func TestStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		code int
		want string
	}{
		{"bad number", map[string]string{"KIT_MAIL_CONCURRENCY": "-1"}, mailer.ExitConfig, "KIT_MAIL_CONCURRENCY"},
		{"unknown mail option", map[string]string{"KIT_QUEUE_URL": "memory://", "KIT_MAIL_URL": "smtp://app:s3cret@127.0.0.1:1?max_con=4"}, mailer.ExitConfig, `option \"max_con\": unknown option`},
		{"unknown queue option", map[string]string{"KIT_QUEUE_URL": "nats://app:s3cret@127.0.0.1:1?strem=X"}, mailer.ExitConfig, `option \"strem\"`},
		{"unknown scheme", map[string]string{"KIT_QUEUE_URL": "kafka://app:s3cret@broker:9092"}, mailer.ExitConfig, "unknown scheme"},
		{"queue unreachable", map[string]string{"KIT_QUEUE_URL": "nats://s3cret@127.0.0.1:1"}, mailer.ExitFailure, "KIT_QUEUE_URL"},
		{"port taken", map[string]string{"KIT_QUEUE_URL": "memory://", "KIT_HTTP_ADDR": "127.0.0.1:-1"}, mailer.ExitFailure, "listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := launch(t, tc.env)
			code := p.wait(30 * time.Second)
			log := p.log()
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if !strings.Contains(log, tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, log)
			}
			if strings.Contains(log, "s3cret") {
				t.Errorf("log shows the secret:\n%s", log)
			}
			if !strings.Contains(log, `"level":"ERROR"`) {
				t.Errorf("no error record:\n%s", log)
			}
		})
	}
}

// TestConfigHTTP: the HTTP port serves probes and metrics only, so there is no drain delay by
// default; KIT_HTTP_DRAIN_DELAY and KIT_HTTP_SHUTDOWN_TIMEOUT set them, and bad values name their
// variable.
func TestConfigHTTP(t *testing.T) {
	c, err := mailer.ConfigFromEnv(nil)
	if err != nil || c.HTTPDrainDelay != 0 || c.HTTPShutdownTimeout != 5*time.Second {
		t.Errorf("defaults: drain %s, shutdown %s, %v", c.HTTPDrainDelay, c.HTTPShutdownTimeout, err)
	}
	c, err = mailer.ConfigFromEnv([]string{"KIT_HTTP_DRAIN_DELAY=5s", "KIT_HTTP_SHUTDOWN_TIMEOUT=1m"})
	if err != nil || c.HTTPDrainDelay != 5*time.Second || c.HTTPShutdownTimeout != time.Minute {
		t.Errorf("set: drain %s, shutdown %s, %v", c.HTTPDrainDelay, c.HTTPShutdownTimeout, err)
	}
	_, err = mailer.ConfigFromEnv([]string{"KIT_HTTP_DRAIN_DELAY=-5s", "KIT_HTTP_SHUTDOWN_TIMEOUT=later"})
	if !errors.Is(err, mailer.ErrConfig) || !strings.Contains(err.Error(), `KIT_HTTP_DRAIN_DELAY: "-5s"`) || !strings.Contains(err.Error(), `KIT_HTTP_SHUTDOWN_TIMEOUT: "later"`) {
		t.Errorf("bad values: %v", err)
	}
}

// TestPortTakenFailsAtOnce: the HTTP port or the embedded NATS server's port in use ends the
// start at once, with exit code 1 and one error line naming the address and the cause.
func TestPortTakenFailsAtOnce(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	mailerBinary(t) // built before the clock starts
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"http", map[string]string{"KIT_HTTP_ADDR": addr}, "KIT_HTTP_ADDR: http: listen tcp " + addr + ": bind: address already in use"},
		{"embedded nats", map[string]string{"KIT_QUEUE_URL": "nats+embedded://.kit/nats?listen=" + addr}, "listen tcp " + addr + ": bind: address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p := launch(t, tc.env)
			code := p.wait(60 * time.Second)
			took := time.Since(start)
			if code != mailer.ExitFailure {
				t.Errorf("exit code %d, want %d", code, mailer.ExitFailure)
			}
			var errs []string
			for line := range strings.SplitSeq(p.log(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					errs = append(errs, line)
				}
			}
			if len(errs) != 1 || !strings.Contains(errs[0], `"msg":"mailer: failed"`) || !strings.Contains(errs[0], tc.want) {
				t.Errorf("want one error line naming %q, got:\n%s", tc.want, strings.Join(errs, "\n"))
			}
			// At once: the embedded server's 30s wait for readiness must not be spent.
			if took > 10*time.Second {
				t.Errorf("the process took %s to exit", took)
			}
			t.Logf("exit %d after %s: %s", code, took.Round(time.Millisecond), strings.Join(errs, ""))
		})
	}
}

// The binary takes no arguments: --help prints the variables and exits 0, anything else exits 2
// naming the argument, and neither starts a server or creates the embedded NATS directory.
func TestArgumentsStartNothing(t *testing.T) {
	bin := mailerBinary(t)
	for _, tc := range []struct {
		arg    string
		code   int
		stdout string
		stderr string
	}{
		{"--help", mailer.ExitOK, "KIT_MAIL_URL", ""},
		{"-h", mailer.ExitOK, "Usage: mailer", ""},
		{"serve", mailer.ExitConfig, "", `unexpected argument "serve"`},
	} {
		dir := t.TempDir()
		cmd := exec.Command(bin, tc.arg)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "KIT_HTTP_ADDR=127.0.0.1:0"}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("mailer %s started instead of exiting: %s", tc.arg, stderr.String())
		}
		if code := cmd.ProcessState.ExitCode(); code != tc.code {
			t.Errorf("mailer %s: exit %d, want %d", tc.arg, code, tc.code)
		}
		if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("mailer %s: stdout %q stderr %q; want %q and %q", tc.arg, stdout.String(), stderr.String(), tc.stdout, tc.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, ".kit")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mailer %s created .kit in its working directory (%v)", tc.arg, err)
		}
	}
}
