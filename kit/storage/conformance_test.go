package storage_test

import (
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
)

const signing = "?secret=" + storagetest.Secret + "&base_url=http://storage.test/media/"

func TestMemConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) *storage.Storage {
		return storagetest.Open(t, "mem://"+signing)
	})
}

func TestFileConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) *storage.Storage {
		return storagetest.Open(t, "file://"+t.TempDir()+signing)
	})
}
