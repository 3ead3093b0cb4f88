package coordination

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Scaler changes the number of gateway replicas. Implementations: the log
// scaler (embedded default), the Kubernetes scale subresource, a webhook.
type Scaler interface {
	// Replicas returns the current replica count.
	Replicas(ctx context.Context) (int, error)
	// Scale sets the replica count; reason names the alert behind it.
	Scale(ctx context.Context, replicas int, reason string) error
}

// LogScaler is the embedded default: it logs what it would do and remembers
// the count, changing nothing outside the process.
type LogScaler struct {
	log *slog.Logger // non-nil

	mu       sync.Mutex // guards replicas
	replicas int
}

// NewLogScaler returns a LogScaler starting at replicas.
func NewLogScaler(log *slog.Logger, replicas int) *LogScaler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LogScaler{log: log, replicas: replicas}
}

// Replicas returns the remembered count.
func (s *LogScaler) Replicas(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas, nil
}

// Scale logs the change and remembers the new count.
func (s *LogScaler) Scale(_ context.Context, replicas int, reason string) error {
	if replicas < 1 {
		return fmt.Errorf("scale to %d replicas: %w", replicas, ErrInvalidInput)
	}
	s.mu.Lock()
	from := s.replicas
	s.replicas = replicas
	s.mu.Unlock()
	s.log.Info("would scale gateway", "from", from, "to", replicas, "reason", reason)
	return nil
}

var _ Scaler = (*LogScaler)(nil)
