package scale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"unicode/utf8"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/tricyclehq/tricycle/coordination"
)

// Defaults of KubernetesOptions.
const (
	// DefaultFieldManager names the coordinator in the Deployment's managed
	// fields.
	DefaultFieldManager = "tricycle-coordinator"
	// EventReason is the reason of the Events a Kubernetes scaler records.
	EventReason = "ScaledByTricycle"
	// conflictAttempts bounds the read-modify-write attempts of one Scale.
	conflictAttempts = 3
	// maxEventMessage is the longest Event message the API server accepts.
	maxEventMessage = 1024
)

// KubernetesClient holds the typed clients a Kubernetes scaler uses. Tests
// pass the fake clientset's AppsV1() and CoreV1().
type KubernetesClient struct {
	// Apps reads and updates the Deployment's scale subresource; required.
	Apps appsv1client.DeploymentsGetter
	// Core creates Events; required when KubernetesOptions.RecordEvents is set.
	Core corev1client.EventsGetter
}

// InClusterClient builds a KubernetesClient from the service account token
// and API server address that Kubernetes mounts into a pod. Outside a pod
// it returns rest.ErrNotInCluster, wrapped.
func InClusterClient() (KubernetesClient, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return KubernetesClient{}, fmt.Errorf("kubernetes in-cluster config: %w", err)
	}
	cfg.UserAgent = DefaultFieldManager
	apps, err := appsv1client.NewForConfig(cfg)
	if err != nil {
		return KubernetesClient{}, fmt.Errorf("kubernetes apps/v1 client: %w", err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return KubernetesClient{}, fmt.Errorf("kubernetes core/v1 client: %w", err)
	}
	return KubernetesClient{Apps: apps, Core: core}, nil
}

// KubernetesOptions configure a Kubernetes scaler.
type KubernetesOptions struct {
	// Namespace is the namespace of the gateway Deployment; required.
	Namespace string
	// Deployment is the name of the gateway Deployment; required.
	Deployment string
	// FieldManager names the writer in the Deployment's managed fields;
	// empty means DefaultFieldManager.
	FieldManager string
	// RecordEvents creates an Event on the Deployment for each scale, its
	// message carrying the reason. It needs create on events in Namespace.
	RecordEvents bool
	// Clock stamps the Events; nil means the real clock.
	Clock coordination.Clock
	// Logger receives a warning when an Event cannot be created; nil
	// discards it.
	Logger *slog.Logger
}

// Kubernetes scales a Deployment through its scale subresource. It is safe
// for concurrent use.
type Kubernetes struct {
	deployments  appsv1client.DeploymentInterface // non-nil
	events       corev1client.EventInterface      // non-nil iff RecordEvents
	namespace    string                           // non-empty
	name         string                           // non-empty
	fieldManager string                           // non-empty
	clock        coordination.Clock               // non-nil
	log          *slog.Logger                     // non-nil
}

var _ coordination.Scaler = (*Kubernetes)(nil)

// NewKubernetes returns a scaler for the Deployment opts names. It makes no
// API call: a missing Deployment or a missing permission shows on the first
// Replicas or Scale.
func NewKubernetes(c KubernetesClient, opts KubernetesOptions) (*Kubernetes, error) {
	var errs []error
	if c.Apps == nil {
		errs = append(errs, errors.New("client: the apps/v1 client is required"))
	}
	if opts.RecordEvents && c.Core == nil {
		errs = append(errs, errors.New("client: the core/v1 client is required to record events"))
	}
	if opts.Namespace == "" {
		errs = append(errs, errors.New("namespace: must not be empty"))
	}
	if opts.Deployment == "" {
		errs = append(errs, errors.New("deployment: must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kubernetes scaler: %w: %w", coordination.ErrInvalidInput, err)
	}
	k := &Kubernetes{
		deployments:  c.Apps.Deployments(opts.Namespace),
		namespace:    opts.Namespace,
		name:         opts.Deployment,
		fieldManager: opts.FieldManager,
		clock:        opts.Clock,
		log:          opts.Logger,
	}
	if opts.RecordEvents {
		k.events = c.Core.Events(opts.Namespace)
	}
	if k.fieldManager == "" {
		k.fieldManager = DefaultFieldManager
	}
	if k.clock == nil {
		k.clock = coordination.RealClock()
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	return k, nil
}

// Replicas returns the Deployment's desired replica count (spec.replicas of
// its scale subresource).
func (k *Kubernetes) Replicas(ctx context.Context) (int, error) {
	s, err := k.deployments.GetScale(ctx, k.name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read replicas of deployment %s/%s: %w", k.namespace, k.name, classify(err))
	}
	return int(s.Spec.Replicas), nil
}

// Scale sets the Deployment's replica count. It reads the scale
// subresource and updates it with the resource version it read, retrying a
// few times on a conflict; a count equal to the current one changes
// nothing. With RecordEvents it then records an Event whose message carries
// reason.
func (k *Kubernetes) Scale(ctx context.Context, replicas int, reason string) error {
	if replicas < 1 || replicas > math.MaxInt32 {
		return fmt.Errorf("scale deployment %s/%s to %d replicas: %w: replicas must be within 1-%d",
			k.namespace, k.name, replicas, coordination.ErrInvalidInput, math.MaxInt32)
	}
	var (
		before *autoscalingv1.Scale
		err    error
	)
	for range conflictAttempts {
		before, err = k.update(ctx, int32(replicas))
		if !apierrors.IsConflict(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("scale deployment %s/%s to %d replicas: %w", k.namespace, k.name, replicas, classify(err))
	}
	if before.Spec.Replicas == int32(replicas) || k.events == nil {
		return nil
	}
	k.recordEvent(ctx, before, replicas, reason)
	return nil
}

// update does one read-modify-write of the scale subresource and returns
// the scale as it was read.
func (k *Kubernetes) update(ctx context.Context, replicas int32) (*autoscalingv1.Scale, error) {
	s, err := k.deployments.GetScale(ctx, k.name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	before := s.DeepCopy()
	if s.Spec.Replicas == replicas {
		return before, nil
	}
	s.Spec.Replicas = replicas
	if _, err := k.deployments.UpdateScale(ctx, k.name, s, metav1.UpdateOptions{FieldManager: k.fieldManager}); err != nil {
		return nil, err
	}
	return before, nil
}

// recordEvent creates a Normal Event on the Deployment; a failure is logged,
// since the scale it describes has happened.
func (k *Kubernetes) recordEvent(ctx context.Context, before *autoscalingv1.Scale, to int, reason string) {
	now := metav1.NewTime(k.clock.Now())
	msg := fmt.Sprintf("Scaled from %d to %d replicas", before.Spec.Replicas, to)
	if reason != "" {
		msg += ": " + reason
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", k.name, now.UnixNano()),
			Namespace: k.namespace,
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion:      "apps/v1",
			Kind:            "Deployment",
			Namespace:       k.namespace,
			Name:            k.name,
			UID:             before.UID,
			ResourceVersion: before.ResourceVersion,
		},
		Reason:              EventReason,
		Message:             truncate(msg, maxEventMessage),
		Type:                corev1.EventTypeNormal,
		Source:              corev1.EventSource{Component: k.fieldManager},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: "tricycle.dev/" + k.fieldManager,
		ReportingInstance:   k.fieldManager,
	}
	if _, err := k.events.Create(ctx, ev, metav1.CreateOptions{FieldManager: k.fieldManager}); err != nil {
		k.log.WarnContext(ctx, "scaled the gateway but could not record the event",
			"namespace", k.namespace, "deployment", k.name, "to", to, "reason", reason, "error", err)
	}
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// kubeError is a Kubernetes API error that also matches a coordination
// sentinel; its message is the API error's.
type kubeError struct {
	sentinel error
	err      error
}

func (e *kubeError) Error() string   { return e.err.Error() }
func (e *kubeError) Unwrap() []error { return []error{e.sentinel, e.err} }

// classify makes err match the coordination sentinel its API status means.
func classify(err error) error {
	var sentinel error
	switch {
	case apierrors.IsNotFound(err):
		sentinel = coordination.ErrNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		sentinel = coordination.ErrForbidden
	case apierrors.IsConflict(err):
		sentinel = coordination.ErrConflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		sentinel = coordination.ErrInvalidInput
	default:
		return err
	}
	return &kubeError{sentinel: sentinel, err: err}
}
