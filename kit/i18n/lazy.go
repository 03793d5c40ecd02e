package i18n

import "context"

// LazyMessage is a message marked for translation where no context exists yet: a package-level
// variable, a table of error texts. It is translated when used, into the locale of the context
// at hand. `kitctl i18n extract` finds the calls of [Lazy], [LazyP], [LazyN] and [LazyNP].
//
//	var errNotFound = i18n.Lazy("The page was not found.")
//	...
//	http.Error(w, errNotFound.T(r.Context()), http.StatusNotFound)
type LazyMessage struct {
	Context  string
	ID       string
	IDPlural string
}

// Lazy marks msgid for translation later.
func Lazy(msgid string) LazyMessage { return LazyMessage{ID: msgid} }

// LazyP marks msgid in context msgctxt for translation later.
func LazyP(msgctxt, msgid string) LazyMessage { return LazyMessage{Context: msgctxt, ID: msgid} }

// LazyN marks a plural message for translation later.
func LazyN(singular, plural string) LazyMessage {
	return LazyMessage{ID: singular, IDPlural: plural}
}

// LazyNP marks a plural message in context msgctxt for translation later.
func LazyNP(msgctxt, singular, plural string) LazyMessage {
	return LazyMessage{Context: msgctxt, ID: singular, IDPlural: plural}
}

// T translates the message into the locale in ctx; a plural message takes its singular form
// (use [LazyMessage.N] for a count).
func (m LazyMessage) T(ctx context.Context, args ...any) string {
	return FromContext(ctx).P(m.Context, m.ID, args...)
}

// N translates a plural message for count n.
func (m LazyMessage) N(ctx context.Context, n int, args ...any) string {
	plural := m.IDPlural
	if plural == "" {
		plural = m.ID
	}
	return FromContext(ctx).NP(m.Context, m.ID, plural, n, args...)
}

// String is the untranslated msgid, so a lazy message printed without a context is still text.
func (m LazyMessage) String() string { return m.ID }
