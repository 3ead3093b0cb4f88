package natsbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tricyclehq/tricycle/internal/bus/natsbus"
)

// Environment variables that enable the tests against a real server.
const (
	envURL     = "TRICYCLE_TEST_NATS"
	envRequire = "TRICYCLE_REQUIRE_SERVICES"
)

// serverURL returns the URL in TRICYCLE_TEST_NATS. When it is unset the test
// is skipped, unless TRICYCLE_REQUIRE_SERVICES=1, which makes a missing
// variable or an unreachable server a failure.
func serverURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set", envRequire, envURL)
		}
		t.Skipf("set %s (e.g. nats://127.0.0.1:4222) to run the NATS JetStream tests", envURL)
	}
	return url
}

// testOptions returns options with a stream and subject prefix of their own
// (deleted when the test ends) and short redelivery delays.
func testOptions(t testing.TB) natsbus.Options {
	t.Helper()
	url := serverURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	stream := "TRICYCLE_TEST_" + id
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Errorf("delete stream %s: %v", stream, err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Errorf("delete stream %s: %v", stream, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", stream, err)
		}
	})
	return natsbus.Options{Stream: stream, SubjectPrefix: "tricycle-test-" + id, NakDelay: 50 * time.Millisecond,
		AckWait: 5 * time.Second, MaxAge: time.Hour}
}

// open opens a bus on a stream of the test's own.
func open(t testing.TB, opts natsbus.Options) *natsbus.Bus {
	t.Helper()
	url := serverURL(t)
	for attempt := 1; ; attempt++ {
		b, err := natsbus.Open(t.Context(), url, opts)
		// nats-server 2.9 removes an account's stream directory with its
		// last stream, so a stream created while another test deletes the
		// last one can fail to make its directory; that race is the tests'
		// (they create and delete streams at once), so try again.
		if err != nil && attempt < 3 && strings.Contains(err.Error(), "error creating store for stream") {
			continue
		}
		if err != nil {
			t.Fatalf("%s=%s: %v", envURL, url, err)
		}
		return b
	}
}

// consumers counts the consumers of stream.
func consumers(t *testing.T, stream string) int {
	t.Helper()
	nc, err := nats.Connect(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}
