package queue

import "testing"

// TestWithOption: the option is set and the rest of the URL stays as written, so a URL without a
// host keeps its "//" and the other options keep their order and escaping.
func TestWithOption(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"memory://", "memory://?create=false"},
		{"memory://?x=1", "memory://?x=1&create=false"},
		{"memory:?x=1", "memory:?x=1&create=false"},
		{"nats+embedded:///var/lib/kit/nats", "nats+embedded:///var/lib/kit/nats?create=false"},
		{"nats://127.0.0.1:4222?subjects=kit.%3E&stream=KIT", "nats://127.0.0.1:4222?subjects=kit.%3E&stream=KIT&create=false"},
		{"nats://app:s3cret@h:4222?create=true&stream=KIT&create=1", "nats://app:s3cret@h:4222?stream=KIT&create=false"},
		{"nats://h?cre%61te=true&stream=KIT", "nats://h?stream=KIT&create=false"},
		{"nats://h?stream=KIT#part", "nats://h?stream=KIT&create=false#part"},
	} {
		if got := withOption(tc.in, "create", "false"); got != tc.want {
			t.Errorf("withOption(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
