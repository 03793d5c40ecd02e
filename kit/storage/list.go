package storage

import (
	"context"
	"iter"
	"strings"
)

// DefaultPageSize is the List page size when ListOptions.PageSize is 0.
const DefaultPageSize = 1000

// List iterates over the objects whose names start with opts.Prefix, in lexicographic order,
// fetching pages of opts.PageSize as it goes. With opts.Delimiter ("/"), names that contain
// it after the prefix are rolled up into one entry with IsDir set, whose Name is the common
// prefix ending with the delimiter — a directory listing. opts may be nil (everything).
// Iteration stops at the first error, which is yielded once.
//
//	for obj, err := range s.List(ctx, &storage.ListOptions{Prefix: "img/", Delimiter: "/"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(obj.Name, obj.Size, obj.IsDir)
//	}
func (s *Storage) List(ctx context.Context, opts *ListOptions) iter.Seq2[ListObject, error] {
	return func(yield func(ListObject, error) bool) {
		for page, err := range s.ListPages(ctx, opts) {
			if err != nil {
				yield(ListObject{}, err)
				return
			}
			for _, obj := range page.Objects {
				if !yield(obj, nil) {
					return
				}
			}
		}
	}
}

// ListPages iterates over List's pages, one backend request each. A page's NextToken resumes
// the listing after it (as opts.Token), for paging through an HTTP API; the last page has an
// empty NextToken. Iteration stops at the first error, which is yielded once.
func (s *Storage) ListPages(ctx context.Context, opts *ListOptions) iter.Seq2[*ListPage, error] {
	return func(yield func(*ListPage, error) bool) {
		o := ListOptions{}
		if opts != nil {
			o = *opts
		}
		if o.PageSize <= 0 {
			o.PageSize = DefaultPageSize
		}
		if err := s.ready(ctx); err != nil {
			yield(nil, err)
			return
		}
		if err := validatePrefix(o.Prefix, s.maxName); err != nil {
			yield(nil, err)
			return
		}
		for {
			op := s.start(ctx, opList)
			page, err := s.d.List(ctx, &o)
			s.finish(ctx, op, err, 0)
			if err != nil {
				yield(nil, s.wrap("list", o.Prefix, err))
				return
			}
			if !yield(page, nil) || page.NextToken == "" {
				return
			}
			if err := s.ready(ctx); err != nil {
				yield(nil, err)
				return
			}
			o.Token = page.NextToken
		}
	}
}

// Paginate builds one List page for a backend that can produce its names in lexicographic
// order: names yields every name starting with opts.Prefix and greater than opts.Token (or
// from the start), ascending, with what info returns for it; Paginate applies the delimiter
// rollup, the page size and the continuation token. Backends whose stores cannot do this
// themselves (file://, mem://) share it, so they page identically.
func Paginate(opts *ListOptions, names iter.Seq[ListObject]) *ListPage {
	size := opts.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	page := &ListPage{}
	var lastDir string
	for obj := range names {
		if !strings.HasPrefix(obj.Name, opts.Prefix) || (opts.Token != "" && !afterToken(obj.Name, opts.Token, opts.Delimiter)) {
			continue
		}
		if d := opts.Delimiter; d != "" {
			if i := strings.Index(obj.Name[len(opts.Prefix):], d); i >= 0 {
				dir := obj.Name[:len(opts.Prefix)+i+len(d)]
				if dir == lastDir {
					continue
				}
				lastDir = dir
				obj = ListObject{Name: dir, IsDir: true}
			}
		}
		if len(page.Objects) == size {
			page.NextToken = page.Objects[size-1].Name
			return page
		}
		page.Objects = append(page.Objects, obj)
	}
	return page
}

// afterToken reports whether name comes after the continuation token, which is the last entry
// of the previous page: a name, or a rolled-up prefix, everything under which was listed.
func afterToken(name, token, delim string) bool {
	if name <= token {
		return false
	}
	return delim == "" || !strings.HasSuffix(token, delim) || !strings.HasPrefix(name, token)
}
