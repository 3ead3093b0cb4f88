package scale_test

import (
	"testing"

	"github.com/tricyclehq/tricycle/internal/scale"
)

// BenchmarkWebhookScale measures one signed POST and its strict response
// handling against a loopback receiver.
func BenchmarkWebhookScale(b *testing.B) {
	_, w, _ := setupWebhook(b, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Scale(b.Context(), 2+i%8, "alr-bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKubernetesScale measures a read-modify-write of the scale
// subresource through client-go against the fake clientset.
func BenchmarkKubernetesScale(b *testing.B) {
	bundle := setupKube(b, 1)
	k := bundle.scaler(b, false)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := k.Scale(b.Context(), 2+i%8, "alr-bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures checking the signature of a typical body.
func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"replicas":4,"reason":"alr-01J9Z latency_p95 critical"}`)
	sig := scale.Sign(testSecret, body)
	b.ReportAllocs()
	for b.Loop() {
		if !scale.Verify(testSecret, body, sig) {
			b.Fatal("signature refused")
		}
	}
}
