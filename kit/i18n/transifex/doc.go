// Package transifex is a client for the Transifex API v3 and tx's pull and push for projects
// described by .tx/config: every file validated and written atomically, per-file results with the
// API's error detail, unchanged languages skipped by remembered statistics, a shared rate limiter,
// Retry-After and jittered retries, and the bearer token sent to the API's host only — never to
// the file host a download redirects to, never in errors or logs.
//
//	cfg, err := transifex.LoadConfig(".tx/config")
//	creds, err := transifex.ResolveCredentials(cfg, transifex.CredentialOptions{}) // KIT_TRANSIFEX_TOKEN, TX_TOKEN, ~/.transifexrc
//	c, err := transifex.NewFromCredentials(creds)
//	rep, err := transifex.Pull(ctx, c, cfg, transifex.PullOptions{All: true})
//	if err == nil { err = rep.Err() } // any file that failed
//
// Package txtest imitates the API for tests.
package transifex
