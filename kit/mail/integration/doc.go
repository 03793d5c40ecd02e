// Package integration tests kit/mail with modules kit/mail must not depend on: kit/db (sending
// only for committed transactions, through db.OnCommit, on SQLite) and kit/queue/nats (queued
// sending and a Worker killed with SIGKILL mid-send, on the shared NATS server). It is a module
// of its own so that kit/db, bun, SQLite and nats.go stay out of kit/mail's go.mod. It holds
// tests only.
package integration
