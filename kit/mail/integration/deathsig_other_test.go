//go:build !linux

package integration

import "os/exec"

// setDeathSignal does nothing outside Linux: the test's cleanup kills its servers.
func setDeathSignal(*exec.Cmd) {}
