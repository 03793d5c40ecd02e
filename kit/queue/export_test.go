package queue

import "time"

// NewMemoryClock is NewMemory measuring its de-duplication windows on now, for tests that move
// time on instead of sleeping.
func NewMemoryClock(dedupWindow time.Duration, now func() time.Time) Driver {
	return newMemory(dedupWindow, now)
}
