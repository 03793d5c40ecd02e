package internal

import "github.com/stackkit/stackkit/kit/i18n"

var testOnly = i18n.Lazy("Only in tests")
