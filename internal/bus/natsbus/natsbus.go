package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tricyclehq/tricycle/coordination"
)

// Options configure the bus. Zero fields take the defaults named; negative
// durations or counts are refused.
type Options struct {
	// Stream is the JetStream stream's name (default "TRICYCLE").
	Stream string
	// SubjectPrefix is the first token of every subject (default
	// "tricycle"): events are published on SubjectPrefix + "." + type. Two
	// buses sharing a server need distinct streams and prefixes.
	SubjectPrefix string
	// Replicas is the stream's replication factor (default 1; 3 on a
	// cluster in production).
	Replicas int
	// DuplicateWindow is how long the server remembers event IDs to drop a
	// repeated publish (default 2 minutes).
	DuplicateWindow time.Duration
	// MaxAge is how long the stream keeps events (default 7 days).
	MaxAge time.Duration
	// AckWait is how long the server waits for a handler before it
	// redelivers the event (default 30s); a running handler extends it.
	AckWait time.Duration
	// MaxDeliver caps the deliveries of one event to one consumer (default 10).
	MaxDeliver int
	// NakDelay is the pause before an event whose handler failed is
	// redelivered (default 1s).
	NakDelay time.Duration
	// MaxAckPending bounds the events of one consumer delivered and not yet
	// acknowledged, across its replicas (default 256).
	MaxAckPending int
	// InactiveConsumer is how long the server keeps a durable consumer that
	// nobody subscribes to (default 72 hours), so that consumers named after
	// replicas that are gone do not pile up. A consumer subscribed to again
	// after that starts with the events published from then on.
	InactiveConsumer time.Duration
	// ClientName names the connection in the server's monitoring (default
	// "tricycle").
	ClientName string
	// Logger receives delivery problems (default: discarded).
	Logger *slog.Logger
}

// withDefaults returns o with zero fields defaulted, or an error naming a
// negative field.
func (o Options) withDefaults() (Options, error) {
	for name, v := range map[string]int64{"Replicas": int64(o.Replicas), "DuplicateWindow": int64(o.DuplicateWindow),
		"MaxAge": int64(o.MaxAge), "AckWait": int64(o.AckWait), "MaxDeliver": int64(o.MaxDeliver),
		"NakDelay": int64(o.NakDelay), "MaxAckPending": int64(o.MaxAckPending), "InactiveConsumer": int64(o.InactiveConsumer)} {
		if v < 0 {
			return o, fmt.Errorf("%w: %s must not be negative", coordination.ErrInvalidInput, name)
		}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.DuplicateWindow, 2*time.Minute)
	def(&o.MaxAge, 7*24*time.Hour)
	def(&o.AckWait, 30*time.Second)
	def(&o.NakDelay, time.Second)
	def(&o.InactiveConsumer, 72*time.Hour)
	if o.Stream == "" {
		o.Stream = "TRICYCLE"
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "tricycle"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 10
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = 256
	}
	if o.ClientName == "" {
		o.ClientName = "tricycle"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if !validName(o.Stream) {
		return o, fmt.Errorf("%w: stream name %q: want letters, digits, '-' or '_'", coordination.ErrInvalidInput, o.Stream)
	}
	if !validType(o.SubjectPrefix) {
		return o, fmt.Errorf("%w: subject prefix %q: want dot-separated tokens without spaces or wildcards",
			coordination.ErrInvalidInput, o.SubjectPrefix)
	}
	return o, nil
}

// Bus is a coordination.Bus on NATS JetStream. It is safe for concurrent use.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	opts   Options
	multi  bool          // the server takes several filter subjects per consumer
	closed chan struct{} // closed when the connection is closed

	mu     sync.Mutex // guards subs and done
	subs   map[*subscription]struct{}
	isDone bool
}

var _ coordination.Bus = (*Bus)(nil)

// Open connects to the NATS server at url (nats://host:4222, or several
// comma-separated URLs of a cluster) and creates or updates the stream. The
// connection reconnects on its own for as long as the bus is open.
func Open(ctx context.Context, url string, opts Options) (*Bus, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open nats bus: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open nats bus %s: %w", url, err)
	}
	closed := make(chan struct{})
	log := opts.Logger
	nc, err := nats.Connect(url, nats.Name(opts.ClientName), nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("open nats bus %s: %w", url, err)
	}
	b := &Bus{nc: nc, opts: opts, closed: closed, subs: map[*subscription]struct{}{},
		multi: serverAtLeast(nc.ConnectedServerVersion(), 2, 10)}
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("open nats bus %s: %w", url, err)
	}
	_, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        opts.Stream,
		Description: "tricycle coordination events",
		Subjects:    []string{opts.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Replicas:    opts.Replicas,
		Duplicates:  opts.DuplicateWindow,
		MaxAge:      opts.MaxAge,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open nats bus %s: stream %s: %w", url, opts.Stream, err)
	}
	return b, nil
}

// DeduplicatesPublishes reports that a second Publish of an event ID within
// Options.DuplicateWindow is dropped by the server, so subscribers receive
// it once.
func (b *Bus) DeduplicatesPublishes() bool { return true }

func (b *Bus) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.isDone
}

// Publish stores ev in the stream under subject prefix.type and returns once
// the server acknowledged it; a repeated event ID within the duplicate window
// is acknowledged without being stored again.
func (b *Bus) Publish(ctx context.Context, ev coordination.Event) error {
	if b.done() {
		return coordination.ErrBusClosed
	}
	if !validType(ev.Type) {
		return fmt.Errorf("publish %q %s: %w: the type must be dot-separated tokens without spaces or wildcards",
			ev.Type, ev.ID, coordination.ErrInvalidInput)
	}
	if ev.ID == "" {
		return fmt.Errorf("publish %s: %w: the event has no id", ev.Type, coordination.ErrInvalidInput)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("publish %s %s: encode: %w", ev.Type, ev.ID, err)
	}
	msg := nats.NewMsg(b.opts.SubjectPrefix + "." + ev.Type)
	msg.Data = data
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		if b.done() {
			return coordination.ErrBusClosed
		}
		return fmt.Errorf("publish %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}

// Subscribe creates, or binds to, the durable consumer opts.Name and
// delivers its events to h, one at a time, until the subscription or the
// bus is closed (see the package documentation).
func (b *Bus) Subscribe(ctx context.Context, opts coordination.SubscribeOptions, h coordination.Handler) (coordination.Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("subscribe %q: %w: handler must not be nil", opts.Name, coordination.ErrInvalidInput)
	}
	subjects, err := filterSubjects(b.opts.SubjectPrefix, opts.Types, b.multi)
	if err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", opts.Name, err)
	}
	cfg := jetstream.ConsumerConfig{
		Description:   "tricycle subscriber " + opts.Name,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    b.opts.MaxDeliver,
		MaxAckPending: b.opts.MaxAckPending,
	}
	if opts.Name != "" {
		cfg.Durable = consumerName(opts.Name)
		cfg.InactiveThreshold = b.opts.InactiveConsumer
	} else {
		cfg.InactiveThreshold = time.Minute
	}
	if len(subjects) == 1 {
		cfg.FilterSubject = subjects[0]
	} else {
		cfg.FilterSubjects = subjects
	}
	if b.done() {
		return nil, coordination.ErrBusClosed
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, b.opts.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("subscribe %q: consumer: %w", opts.Name, err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	s := &subscription{bus: b, opts: opts, h: h, ctx: hctx, cancel: cancel,
		consumer: cons.CachedInfo().Name, durable: opts.Name != ""}
	s.cc, err = cons.Consume(s.deliver, jetstream.PullMaxMessages(min(b.opts.MaxAckPending, 64)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.opts.Logger.Warn("nats consumer", "consumer", s.consumer, "err", err)
		}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe %q: consume: %w", opts.Name, err)
	}
	b.mu.Lock()
	if b.isDone {
		b.mu.Unlock()
		_ = s.Close()
		return nil, coordination.ErrBusClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// Close closes every subscription and drains the connection.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.isDone {
		b.mu.Unlock()
		return nil
	}
	b.isDone = true
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	if err := b.nc.Drain(); err != nil {
		errs = append(errs, fmt.Errorf("drain nats connection: %w", err))
		b.nc.Close()
	}
	select {
	case <-b.closed:
	case <-time.After(b.nc.Opts.DrainTimeout + time.Second):
		b.nc.Close()
		errs = append(errs, errors.New("drain nats connection: timed out"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close nats bus: %w", err)
	}
	return nil
}

// subscription is one Subscribe's consumer and handler.
type subscription struct {
	bus      *Bus
	opts     coordination.SubscribeOptions
	h        coordination.Handler
	ctx      context.Context // handlers' context, canceled by Close
	cancel   context.CancelFunc
	consumer string // the server's consumer name
	durable  bool
	cc       jetstream.ConsumeContext

	mu     sync.Mutex // held while a handler runs
	closed bool       // guarded by mu
	once   sync.Once
	err    error // Close's result, set once
}

// deliver handles one message: the handler's nil acknowledges it, an error
// asks for redelivery after NakDelay. Messages arriving after Close began go
// straight back to the server.
func (s *subscription) deliver(msg jetstream.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.bus.opts.Logger
	if s.closed {
		_ = msg.Nak()
		return
	}
	var ev coordination.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		log.Error("dropping a message that is not an event", "consumer", s.consumer, "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("not a CloudEvents JSON event")
		return
	}
	if !s.opts.Matches(ev.Type) { // a filter the server could only approximate
		_ = msg.Ack()
		return
	}
	stop := s.keepAlive(msg)
	err := s.h(s.ctx, ev)
	stop()
	if err != nil {
		log.Warn("event handler failed; redelivering", "consumer", s.consumer, "type", ev.Type, "id", ev.ID, "err", err)
		if err := msg.NakWithDelay(s.bus.opts.NakDelay); err != nil {
			log.Warn("nak", "consumer", s.consumer, "id", ev.ID, "err", err)
		}
		return
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack", "consumer", s.consumer, "id", ev.ID, "err", err)
	}
}

// keepAlive tells the server every half AckWait that msg is still being
// handled, until the returned stop is called.
func (s *subscription) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.bus.opts.AckWait / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// Close stops delivery: it cancels the handler's context, waits for a
// running handler, and returns fetched events to the server. A private
// consumer (empty Name) is deleted; a durable one stays for the next
// subscriber.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cc.Drain()
		select {
		case <-s.cc.Closed():
		case <-time.After(10 * time.Second):
			s.cc.Stop()
		}
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		if !s.durable && !s.bus.nc.IsClosed() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.bus.js.DeleteConsumer(ctx, s.bus.opts.Stream, s.consumer); err != nil &&
				!errors.Is(err, jetstream.ErrConsumerNotFound) {
				s.err = fmt.Errorf("close subscription: delete consumer %s: %w", s.consumer, err)
			}
		}
	})
	return s.err
}
