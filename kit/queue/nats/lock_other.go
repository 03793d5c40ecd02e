//go:build !unix

package nats

// lockDir does not lock on systems without flock; do not point two servers at one directory.
func lockDir(string) (func(), error) { return func() {}, nil }
