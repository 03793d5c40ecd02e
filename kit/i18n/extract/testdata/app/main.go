package main

import (
	"context"
	"fmt"

	tr "github.com/stackkit/stackkit/kit/i18n"
)

// Translators: shown on the 404 page
var errNotFound = tr.Lazy("Page not found")

var menu = []tr.LazyMessage{
	tr.LazyP("menu", "File"),
	tr.LazyNP("menu", "%d recent file", "%d recent files"),
}

func greet(ctx context.Context, name string, n int) string {
	// Translators: %s is the user's first name
	hello := tr.T(ctx, "Hello, %s!", name)
	files := tr.N(ctx, "%d file", "%d files", n, n)
	post := tr.P(ctx, "verb", "Post")
	msgs := tr.NP(ctx, "inbox", "%d message", "%d messages", n, n)
	long := tr.T(ctx, "A message written "+
		"over two lines")
	dynamic := tr.T(ctx, name) // not extractable
	loc := tr.FromContext(ctx)
	again := loc.T("Hello, %s!", name)
	raw := tr.T(ctx, `Raw "quoted" text`)
	pct := tr.T(ctx, "100%% sure")
	return fmt.Sprint(hello, files, post, msgs, long, dynamic, again, raw, pct, errNotFound, menu)
}
