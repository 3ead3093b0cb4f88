package scale_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/scale"
)

const (
	testNamespace  = "platform-v2-stable"
	testDeployment = "tricycle-gateway"
)

var deploymentsGR = schema.GroupResource{Group: "apps", Resource: "deployments"}

// scaleServer emulates the API server's deployments/scale subresource for
// one Deployment: optimistic concurrency on resourceVersion, and only
// spec.replicas taken from an update (metadata such as annotations is
// dropped, as the real server does).
type scaleServer struct {
	mu       sync.Mutex
	exists   bool
	replicas int32
	version  int
	// failGet and failUpdate, when set, answer the next calls with errors.
	failGet    []error
	failUpdate []error
	// updates records the field manager of every update that got through.
	updates []string
}

func (s *scaleServer) scaleObject() *autoscalingv1.Scale {
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: testDeployment, Namespace: testNamespace,
			UID: types.UID("uid-gateway"), ResourceVersion: strconv.Itoa(s.version)},
		Spec:   autoscalingv1.ScaleSpec{Replicas: s.replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: s.replicas},
	}
}

func (s *scaleServer) get(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "scale" {
		return false, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failGet) > 0 {
		err := s.failGet[0]
		s.failGet = s.failGet[1:]
		return true, nil, err
	}
	if !s.exists {
		return true, nil, apierrors.NewNotFound(deploymentsGR, testDeployment)
	}
	return true, s.scaleObject(), nil
}

func (s *scaleServer) update(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "scale" {
		return false, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failUpdate) > 0 {
		err := s.failUpdate[0]
		s.failUpdate = s.failUpdate[1:]
		return true, nil, err
	}
	ua := action.(k8stesting.UpdateActionImpl)
	in := ua.GetObject().(*autoscalingv1.Scale)
	if in.ResourceVersion != strconv.Itoa(s.version) {
		return true, nil, apierrors.NewConflict(deploymentsGR, testDeployment, errors.New("the object has been modified"))
	}
	s.replicas = in.Spec.Replicas
	s.version++
	s.updates = append(s.updates, ua.UpdateOptions.FieldManager)
	return true, s.scaleObject(), nil
}

func (s *scaleServer) state() (int32, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas, append([]string(nil), s.updates...)
}

type kubeBundle struct {
	cs     *fake.Clientset
	server *scaleServer
	log    *bytes.Buffer
	now    time.Time
}

func setupKube(tb testing.TB, replicas int32) *kubeBundle {
	tb.Helper()
	b := &kubeBundle{
		cs:     fake.NewClientset(),
		server: &scaleServer{exists: true, replicas: replicas, version: 7},
		log:    &bytes.Buffer{},
		now:    time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	b.cs.PrependReactor("get", "deployments", b.server.get)
	b.cs.PrependReactor("update", "deployments", b.server.update)
	return b
}

func (b *kubeBundle) scaler(tb testing.TB, recordEvents bool) *scale.Kubernetes {
	tb.Helper()
	k, err := scale.NewKubernetes(
		scale.KubernetesClient{Apps: b.cs.AppsV1(), Core: b.cs.CoreV1()},
		scale.KubernetesOptions{
			Namespace: testNamespace, Deployment: testDeployment, RecordEvents: recordEvents,
			Clock:  coordination.ClockFunc(func() time.Time { return b.now }),
			Logger: slog.New(slog.NewTextHandler(b.log, nil)),
		})
	if err != nil {
		tb.Fatalf("NewKubernetes: %v", err)
	}
	return k
}

func (b *kubeBundle) eventMessages(t *testing.T) []string {
	t.Helper()
	list, err := b.cs.CoreV1().Events(testNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Reason != scale.EventReason || e.InvolvedObject.Kind != "Deployment" ||
			e.InvolvedObject.Name != testDeployment || e.Type != "Normal" {
			t.Errorf("event %s: reason %q, object %s/%s, type %q", e.Name, e.Reason,
				e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type)
		}
		if !e.LastTimestamp.Time.Equal(b.now) {
			t.Errorf("event %s stamped %v, want %v", e.Name, e.LastTimestamp.Time, b.now)
		}
		out = append(out, e.Message)
	}
	return out
}

func TestKubernetesReplicasReadsScaleSubresource(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 3)
	got, err := b.scaler(t, false).Replicas(t.Context())
	if err != nil || got != 3 {
		t.Fatalf("Replicas = %d, %v; want 3, nil", got, err)
	}
}

func TestKubernetesScaleSetsReplicasAndRecordsReason(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 2)
	k := b.scaler(t, true)
	if err := k.Scale(t.Context(), 4, "alert alr-42 latency_p95 critical"); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	replicas, updates := b.server.state()
	if replicas != 4 {
		t.Errorf("deployment has %d replicas, want 4", replicas)
	}
	if len(updates) != 1 || updates[0] != scale.DefaultFieldManager {
		t.Errorf("updates by field managers %q, want one by %q", updates, scale.DefaultFieldManager)
	}
	got, err := k.Replicas(t.Context())
	if err != nil || got != 4 {
		t.Errorf("Replicas after Scale = %d, %v; want 4", got, err)
	}
	msgs := b.eventMessages(t)
	want := "Scaled from 2 to 4 replicas: alert alr-42 latency_p95 critical"
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("event messages %q, want [%q]", msgs, want)
	}
}

func TestKubernetesScaleWithoutEventsCreatesNone(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 2)
	if err := b.scaler(t, false).Scale(t.Context(), 3, "alr-1"); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if msgs := b.eventMessages(t); len(msgs) != 0 {
		t.Errorf("events recorded without RecordEvents: %q", msgs)
	}
}

func TestKubernetesScaleToCurrentCountChangesNothing(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 5)
	if err := b.scaler(t, true).Scale(t.Context(), 5, "alr-1"); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if _, updates := b.server.state(); len(updates) != 0 {
		t.Errorf("%d updates for a no-op scale", len(updates))
	}
	if msgs := b.eventMessages(t); len(msgs) != 0 {
		t.Errorf("events for a no-op scale: %q", msgs)
	}
}

func TestKubernetesScaleRetriesConflicts(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 2)
	conflict := apierrors.NewConflict(deploymentsGR, testDeployment, errors.New("modified"))
	b.server.failUpdate = []error{conflict, conflict}
	if err := b.scaler(t, false).Scale(t.Context(), 3, "alr-1"); err != nil {
		t.Fatalf("Scale after two conflicts: %v", err)
	}
	if replicas, _ := b.server.state(); replicas != 3 {
		t.Errorf("deployment has %d replicas, want 3", replicas)
	}
}

func TestKubernetesErrorsAreWrappedAndClassified(t *testing.T) {
	t.Parallel()
	forbidden := apierrors.NewForbidden(deploymentsGR, testDeployment, errors.New("RBAC: access denied"))
	conflict := apierrors.NewConflict(deploymentsGR, testDeployment, errors.New("modified"))
	cases := []struct {
		name       string
		prepare    func(*scaleServer)
		call       func(context.Context, *scale.Kubernetes) error
		sentinel   error
		apiCheck   func(error) bool
		wantInText string
	}{
		{
			name:    "missing deployment on read",
			prepare: func(s *scaleServer) { s.exists = false },
			call: func(ctx context.Context, k *scale.Kubernetes) error {
				_, err := k.Replicas(ctx)
				return err
			},
			sentinel: coordination.ErrNotFound, apiCheck: apierrors.IsNotFound,
			wantInText: "read replicas of deployment platform-v2-stable/tricycle-gateway",
		},
		{
			name:    "forbidden update",
			prepare: func(s *scaleServer) { s.failUpdate = []error{forbidden} },
			call: func(ctx context.Context, k *scale.Kubernetes) error {
				return k.Scale(ctx, 6, "alr-1")
			},
			sentinel: coordination.ErrForbidden, apiCheck: apierrors.IsForbidden,
			wantInText: "scale deployment platform-v2-stable/tricycle-gateway to 6 replicas",
		},
		{
			name:    "conflicts on every attempt",
			prepare: func(s *scaleServer) { s.failUpdate = []error{conflict, conflict, conflict} },
			call: func(ctx context.Context, k *scale.Kubernetes) error {
				return k.Scale(ctx, 6, "alr-1")
			},
			sentinel: coordination.ErrConflict, apiCheck: apierrors.IsConflict,
			wantInText: "to 6 replicas",
		},
		{
			name:    "transport failure",
			prepare: func(s *scaleServer) { s.failGet = []error{errors.New("connection refused")} },
			call: func(ctx context.Context, k *scale.Kubernetes) error {
				return k.Scale(ctx, 6, "alr-1")
			},
			wantInText: "connection refused",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupKube(t, 2)
			tc.prepare(b.server)
			err := tc.call(t.Context(), b.scaler(t, false))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantInText) {
				t.Errorf("error %q does not contain %q", err, tc.wantInText)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q is not %v", err, tc.sentinel)
			}
			if tc.apiCheck != nil && !tc.apiCheck(err) {
				t.Errorf("error %q lost its Kubernetes status", err)
			}
			if replicas, _ := b.server.state(); replicas != 2 {
				t.Errorf("replicas changed to %d by a failed scale", replicas)
			}
		})
	}
}

func TestKubernetesScaleRefusesInvalidCounts(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1, 1 << 40} {
		b := setupKube(t, 2)
		err := b.scaler(t, false).Scale(t.Context(), n, "alr-1")
		if !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("Scale(%d) = %v, want ErrInvalidInput", n, err)
		}
		if len(b.cs.Actions()) != 0 {
			t.Errorf("Scale(%d) made API calls: %v", n, b.cs.Actions())
		}
	}
}

func TestKubernetesEventFailureIsLoggedNotReturned(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 2)
	b.cs.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("denied"))
	})
	if err := b.scaler(t, true).Scale(t.Context(), 3, "alr-9"); err != nil {
		t.Fatalf("Scale failed because of its event: %v", err)
	}
	if replicas, _ := b.server.state(); replicas != 3 {
		t.Errorf("replicas = %d, want 3", replicas)
	}
	if log := b.log.String(); !strings.Contains(log, "could not record the event") || !strings.Contains(log, "alr-9") {
		t.Errorf("log does not report the lost event: %q", log)
	}
}

func TestKubernetesLongReasonIsTruncated(t *testing.T) {
	t.Parallel()
	b := setupKube(t, 1)
	if err := b.scaler(t, true).Scale(t.Context(), 2, strings.Repeat("é", 2000)); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	msgs := b.eventMessages(t)
	if len(msgs) != 1 || len(msgs[0]) > 1024 || !strings.HasSuffix(msgs[0], "…") {
		t.Fatalf("event message of %d bytes, want at most 1024 ending in an ellipsis", len(msgs[0]))
	}
}

func TestNewKubernetesValidatesOptions(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	cases := []struct {
		name   string
		client scale.KubernetesClient
		opts   scale.KubernetesOptions
		want   string
	}{
		{"no apps client", scale.KubernetesClient{}, scale.KubernetesOptions{Namespace: "a", Deployment: "b"}, "apps/v1 client"},
		{"events without core client", scale.KubernetesClient{Apps: cs.AppsV1()},
			scale.KubernetesOptions{Namespace: "a", Deployment: "b", RecordEvents: true}, "core/v1 client"},
		{"no namespace", scale.KubernetesClient{Apps: cs.AppsV1()}, scale.KubernetesOptions{Deployment: "b"}, "namespace"},
		{"no deployment", scale.KubernetesClient{Apps: cs.AppsV1()}, scale.KubernetesOptions{Namespace: "a"}, "deployment"},
	}
	for _, tc := range cases {
		_, err := scale.NewKubernetes(tc.client, tc.opts)
		if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalidInput naming %q", tc.name, err, tc.want)
		}
	}
}

func TestInClusterClientOutsideAPod(t *testing.T) {
	if _, ok := os.LookupEnv("KUBERNETES_SERVICE_HOST"); ok {
		t.Skip("running inside a Kubernetes pod")
	}
	t.Parallel()
	if _, err := scale.InClusterClient(); err == nil || !strings.Contains(err.Error(), "in-cluster config") {
		t.Fatalf("InClusterClient outside a pod = %v, want an in-cluster config error", err)
	}
}
