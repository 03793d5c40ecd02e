package storage_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/stackkit/stackkit/kit/storage"
)

func Example() {
	ctx := context.Background()
	s, err := storage.Open(ctx, "mem://?base_url=https://cdn.example.com/media/")
	if err != nil {
		panic(err)
	}
	defer s.Close()

	_ = s.Put(ctx, "docs/readme.txt", strings.NewReader("hello"), nil)
	_ = s.Put(ctx, "img/a.png", strings.NewReader("\x89PNG\r\n\x1a\n"), nil)
	_ = s.Put(ctx, "img/thumbs/a.png", strings.NewReader("\x89PNG\r\n\x1a\n"), nil)

	b, _ := s.Get(ctx, "docs/readme.txt")
	a, _ := s.Stat(ctx, "img/a.png")
	u, _ := s.URL("docs/readme.txt")
	fmt.Println(string(b), a.ContentType, u)

	for obj, err := range s.List(ctx, &storage.ListOptions{Prefix: "img/", Delimiter: "/"}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(obj.Name, obj.IsDir)
	}

	_, err = s.Get(ctx, "../etc/passwd")
	fmt.Println(err)
	// Output:
	// hello image/png https://cdn.example.com/media/docs/readme.txt
	// img/a.png false
	// img/thumbs/ true
	// storage: invalid name "../etc/passwd": ".." path component
}

func ExampleStorage_Save() {
	ctx := context.Background()
	s, _ := storage.Open(ctx, "mem://")
	defer s.Close()

	first, _ := s.Save(ctx, "photos/cat.jpg", strings.NewReader("one"), nil)
	second, _ := s.Save(ctx, "photos/cat.jpg", strings.NewReader("two"), nil)
	fmt.Println(first)
	fmt.Println(strings.HasPrefix(second, "photos/cat_") && strings.HasSuffix(second, ".jpg"), len(second) == len(first)+8)
	// Output:
	// photos/cat.jpg
	// true true
}
