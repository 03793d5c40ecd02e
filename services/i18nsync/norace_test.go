//go:build !race

package i18nsync_test

const raceEnabled = false
