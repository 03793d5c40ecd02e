//go:build race

package mailer_test

const raceEnabled = true
