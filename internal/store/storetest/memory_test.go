package storetest_test

import (
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/store/storetest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) coordination.Store { return coordination.NewMemoryStore() })
}

func FuzzMemoryStore(f *testing.F) {
	storetest.Fuzz(f, coordination.NewMemoryStore())
}
