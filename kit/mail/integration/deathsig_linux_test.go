package integration

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel SIGKILL cmd if this test process dies first (a test timeout), so
// no nats-server outlives the run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
