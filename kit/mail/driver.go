package mail

import "context"

// Driver is what a mail backend implements: deliver rendered messages. The portable [Mailer]
// has already validated and rendered the message (addresses, headers, MIME, Message-ID) and
// adds telemetry and per-message error joining; a driver only does I/O.
//
// Send delivers one message to every envelope recipient, or fails: a driver must not report
// success for a message some recipients were refused (SMTP: every RCPT accepted or none used).
// It returns *SMTPError for server replies and errors wrapping ErrConnection for failures to
// talk to the server, so IsTemporary classifies them. Drivers must be safe for concurrent use
// and honour ctx.
type Driver interface {
	Send(ctx context.Context, env *Envelope) error
	// Capabilities describes the backend to the portable type.
	Capabilities() Capabilities
	// Close releases the backend's connections.
	Close() error
}

// Capabilities tells the portable type about a backend.
type Capabilities struct {
	// Name is the backend's name for telemetry and messages: "smtp", "memory", "file",
	// "console", "queue".
	Name string
	// Queued is true when Send hands the message to a queue for a Worker to send, rather than
	// delivering it.
	Queued bool
}

// Pinger is implemented by network backends for readiness checks.
type Pinger interface {
	Ping(ctx context.Context) error
}
