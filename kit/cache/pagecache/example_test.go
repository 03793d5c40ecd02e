package pagecache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/pagecache"
)

func ExampleMiddleware() {
	c, err := cache.Open(context.Background(), "memory://")
	if err != nil {
		panic(err)
	}
	defer c.Close()

	renders := 0
	article := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders++
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "<h1>Hello</h1>")
	})
	pages := pagecache.Middleware(c, pagecache.TTL(5*time.Minute), pagecache.XCacheHeader(true))
	handler := pages(article)

	for range 3 {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest("GET", "/articles/hello", nil))
		fmt.Println(w.Header().Get("X-Cache"), w.Header().Get("Cache-Control"), w.Body.String())
	}
	fmt.Println("rendered", renders, "time")
	// Output:
	// MISS max-age=300 <h1>Hello</h1>
	// HIT max-age=300 <h1>Hello</h1>
	// HIT max-age=300 <h1>Hello</h1>
	// rendered 1 time
}
