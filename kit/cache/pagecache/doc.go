// Package pagecache is an HTTP page cache over a kit/cache [cache.Cache], Django's cache_page
// (UpdateCacheMiddleware and FetchFromCacheMiddleware in one) as plain net/http middleware: it
// stores whole GET responses and serves them again, to GET and HEAD, without calling the handler.
//
//	c, err := cache.Open(ctx, os.Getenv("KIT_CACHE_URL"))
//	pages := pagecache.Middleware(c, pagecache.TTL(5*time.Minute))
//	mux.Handle("GET /articles/{slug}", pages(articleHandler))
//
// What is stored, and for how long, follows RFC 9111 for a shared cache; see [Middleware] for
// the rules and the key, and the README for where to put it in a middleware stack.
package pagecache
