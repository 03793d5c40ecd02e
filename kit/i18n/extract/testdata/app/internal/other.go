package internal

import "github.com/stackkit/stackkit/kit/i18n"

var Bye = i18n.LazyN("Goodbye", "Goodbyes")

func unrelated(s interface{ T(string) string }) string {
	return s.T("Hello, %s!")
}
