// Package txsync keeps services' translations in step with Transifex without a deploy: a
// queue-driven Worker pulls translations into kit/storage, compiles and checks them, stores
// them as a new immutable version (i18n/<version>/locale/<lang>/LC_MESSAGES/<domain>.mo), points
// i18n/current at it (last, in one write) and announces the version on kit/queue; a Follower in
// each service loads the announced version and swaps its i18n.Translator's set, keeping the old
// one if the load fails.
//
// Sync requests come from `kitctl i18n sync`, a timer, or Transifex's webhooks (Webhook checks
// their signature). They are de-duplicated twice: by message ID per scope and time window in the
// queue, and by folding every request that arrives while a sync runs into the one next sync.
//
//	// the worker (services/i18nsync runs it)
//	w, err := txsync.NewWorker(client, cfg, store, q, txsync.Options{})
//	err = w.Run(ctx)
//
//	// each translated service
//	f := txsync.NewFollower(tr, store, txsync.FollowerOptions{Domain: "messages"})
//	go f.Run(ctx, events, "web-"+hostname)
//
//	// anyone: ask for a sync
//	msg, _ := txsync.Request{Reason: "cron"}.Message(txsync.DefaultRequestSubject, time.Minute)
//	err = q.Publish(ctx, msg)
package txsync
