package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func (s *suite) testContext(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	put(t, st, "ctx.txt", []byte("before"))
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	ops := map[string]error{}
	ops["Put"] = st.Put(ctx, "ctx.txt", strings.NewReader("after"), nil)
	ops["Put new"] = st.Put(ctx, "ctx-new.txt", strings.NewReader("after"), nil)
	_, ops["Get"] = st.Get(ctx, "ctx.txt")
	_, ops["Stat"] = st.Stat(ctx, "ctx.txt")
	ops["Delete"] = st.Delete(ctx, "ctx.txt")
	ops["Copy"] = st.Copy(ctx, "ctx-copy.txt", "ctx.txt")
	_, ops["Save"] = st.Save(ctx, "ctx.txt", strings.NewReader("after"), nil)
	for _, err := range st.List(ctx, nil) {
		ops["List"] = err
		break
	}
	for op, err := range ops {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	wantContent(t, st, "ctx.txt", []byte("before"))
	wantNotExist(t, st, "ctx-new.txt")
	wantNotExist(t, st, "ctx-copy.txt")
	if got := names(t, st, nil); len(got) != 1 {
		t.Errorf("List after cancelled calls = %q, want only ctx.txt", got)
	}
}
