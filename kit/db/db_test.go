package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
)

func TestOpenUnknownScheme(t *testing.T) {
	_, err := db.Open(context.Background(), "postgress://app:hunter2@localhost/app")
	if !errors.Is(err, registry.ErrUnknownScheme) {
		t.Fatalf("err = %v, want ErrUnknownScheme", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), `"postgress"`) {
		t.Errorf("error leaks the password or does not name the scheme: %v", err)
	}
}

func TestOnCommitOutsideTransactionRunsAtOnce(t *testing.T) {
	ran := false
	if err := db.OnCommit(context.Background(), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("ran=%v err=%v", ran, err)
	}
}
