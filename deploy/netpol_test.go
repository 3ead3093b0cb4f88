package deploy

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The isolation rules are checked on a model of NetworkPolicy semantics:
// the pods of the manifests' Deployments, plus the peers they talk to
// (DNS, NATS, PostgreSQL, Prometheus, the ingress controller, the API
// server, an address on the internet) and a hypothetical pod in V3. A
// connection is allowed when the source's egress and the destination's
// ingress both allow it; a pod no policy of a direction selects is open in
// that direction.

// endpoint is one party of a connection.
type endpoint struct {
	name      string
	namespace string // "" for an address outside the cluster's pods
	labels    map[string]string
	ip        netip.Addr
	ports     []corev1.ContainerPort // what it listens on
}

func (e endpoint) isPod() bool { return e.namespace != "" }

// netModel holds the endpoints, namespaces and policies of a cluster.
type netModel struct {
	endpoints  []endpoint
	namespaces map[string]map[string]string // name → labels
	policies   []*networkingv1.NetworkPolicy
}

func tcp(port int32) corev1.ContainerPort {
	return corev1.ContainerPort{ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func newNetModel(t *testing.T) *netModel {
	t.Helper()
	set := defaultSet(t)
	m := &netModel{namespaces: set.namespaceLabels(), policies: objectsOf[*networkingv1.NetworkPolicy](set)}
	for _, ns := range []string{"kube-system", "platform-data", "monitoring", "ingress-nginx"} {
		m.namespaces[ns] = map[string]string{"kubernetes.io/metadata.name": ns}
	}
	next := 1
	podIP := func() netip.Addr {
		next++
		return netip.AddrFrom4([4]byte{10, 244, byte(next / 250), byte(next%250 + 1)})
	}
	for _, d := range set.deployments() {
		m.endpoints = append(m.endpoints, endpoint{
			name: d.Spec.Template.Labels["app.kubernetes.io/component"], namespace: d.Namespace,
			labels: d.Spec.Template.Labels, ip: podIP(), ports: d.Spec.Template.Spec.Containers[0].Ports,
		})
	}
	udp53 := corev1.ContainerPort{ContainerPort: 53, Protocol: corev1.ProtocolUDP}
	m.endpoints = append(m.endpoints,
		endpoint{name: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}, ip: podIP(), ports: []corev1.ContainerPort{udp53, tcp(53)}},
		endpoint{name: "nats", namespace: "platform-data", labels: map[string]string{"app.kubernetes.io/name": "nats"}, ip: podIP(), ports: []corev1.ContainerPort{tcp(4222)}},
		endpoint{name: "postgresql", namespace: "platform-data", labels: map[string]string{"app.kubernetes.io/name": "postgresql"}, ip: podIP(), ports: []corev1.ContainerPort{tcp(5432)}},
		endpoint{name: "prometheus", namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, ip: podIP(), ports: []corev1.ContainerPort{tcp(9090)}},
		endpoint{name: "ingress", namespace: "ingress-nginx", labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}, ip: podIP(), ports: []corev1.ContainerPort{tcp(443)}},
		endpoint{name: "archive-viewer", namespace: nsV3, labels: map[string]string{"app.kubernetes.io/name": "tricycle", "app.kubernetes.io/component": "archive"}, ip: podIP(), ports: []corev1.ContainerPort{tcp(8080)}},
		endpoint{name: "apiserver", ip: netip.MustParseAddr("10.0.0.1"), ports: []corev1.ContainerPort{tcp(6443), tcp(443)}},
		endpoint{name: "metadata", ip: netip.MustParseAddr("169.254.169.254"), ports: []corev1.ContainerPort{tcp(80), tcp(443)}},
		endpoint{name: "internet", ip: netip.MustParseAddr("203.0.113.10"), ports: []corev1.ContainerPort{tcp(443), tcp(80)}},
		endpoint{name: "internet6", ip: netip.MustParseAddr("2001:db8::10"), ports: []corev1.ContainerPort{tcp(443)}},
	)
	return m
}

func (m *netModel) get(t *testing.T, name string) endpoint {
	t.Helper()
	for _, e := range m.endpoints {
		if e.name == name {
			return e
		}
	}
	t.Fatalf("no endpoint %q in the model", name)
	return endpoint{}
}

// policyTypes returns the directions a policy governs, with the API's
// default when policyTypes is empty.
func policyTypes(p *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(p.Spec.PolicyTypes) > 0 {
		return p.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(p.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(lbls))
}

// governing returns the policies of dir that select e.
func (m *netModel) governing(e endpoint, dir networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range m.policies {
		if e.isPod() && p.Namespace == e.namespace && selects(&p.Spec.PodSelector, e.labels) && slices.Contains(policyTypes(p), dir) {
			out = append(out, p)
		}
	}
	return out
}

// peerMatches reports whether peer, written in a policy of namespace ns,
// matches e.
func (m *netModel) peerMatches(peer networkingv1.NetworkPolicyPeer, ns string, e endpoint) bool {
	if peer.IPBlock != nil {
		cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil || !cidr.Contains(e.ip) {
			return false
		}
		for _, ex := range peer.IPBlock.Except {
			if p, err := netip.ParsePrefix(ex); err == nil && p.Contains(e.ip) {
				return false
			}
		}
		return true
	}
	if !e.isPod() {
		return false
	}
	if peer.NamespaceSelector == nil {
		if e.namespace != ns {
			return false
		}
	} else if !selects(peer.NamespaceSelector, m.namespaces[e.namespace]) {
		return false
	}
	return selects(peer.PodSelector, e.labels)
}

// portMatches reports whether the rule's ports admit port/proto on dst.
func portMatches(ports []networkingv1.NetworkPolicyPort, dst endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		want := int32(p.Port.IntValue())
		if p.Port.IntValue() == 0 {
			// A named port resolves against the destination's ports.
			for _, cp := range dst.ports {
				if cp.Name == p.Port.String() {
					want = cp.ContainerPort
				}
			}
		}
		if port == want || (p.EndPort != nil && port >= want && port <= *p.EndPort) {
			return true
		}
	}
	return false
}

// egressAllows reports whether src's egress policies let it open port on dst.
func (m *netModel) egressAllows(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	pols := m.governing(src, networkingv1.PolicyTypeEgress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Egress {
			peerOK := len(r.To) == 0
			for _, peer := range r.To {
				peerOK = peerOK || m.peerMatches(peer, p.Namespace, dst)
			}
			if peerOK && portMatches(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return false
}

// ingressAllows reports whether dst's ingress policies admit src on port.
func (m *netModel) ingressAllows(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	pols := m.governing(dst, networkingv1.PolicyTypeIngress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Ingress {
			peerOK := len(r.From) == 0
			for _, peer := range r.From {
				peerOK = peerOK || m.peerMatches(peer, p.Namespace, src)
			}
			if peerOK && portMatches(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return false
}

func (m *netModel) allows(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return m.egressAllows(src, dst, port, proto) && m.ingressAllows(src, dst, port, proto)
}

// probePorts are the ports every pair is tried on: the destination's own
// and every port any rule mentions.
func probePorts(dst endpoint) []corev1.ContainerPort {
	out := slices.Clone(dst.ports)
	for _, p := range []int32{53, 80, 443, 4222, 5432, 6443, 8080, 9090} {
		out = append(out, tcp(p), corev1.ContainerPort{ContainerPort: p, Protocol: corev1.ProtocolUDP})
	}
	return out
}

func TestV1AndV2NeverTalkDirectly(t *testing.T) {
	t.Parallel()
	m := newNetModel(t)
	for _, src := range m.endpoints {
		for _, dst := range m.endpoints {
			pair := [2]string{src.namespace, dst.namespace}
			if pair != [2]string{nsV1, nsV2} && pair != [2]string{nsV2, nsV1} {
				continue
			}
			for _, p := range probePorts(dst) {
				// Each side must refuse on its own: the egress of the
				// source and the ingress of the destination.
				if m.egressAllows(src, dst, p.ContainerPort, p.Protocol) {
					t.Errorf("%s/%s may open %s %d/%s by its egress", src.namespace, src.name, dst.name, p.ContainerPort, p.Protocol)
				}
				if m.ingressAllows(src, dst, p.ContainerPort, p.Protocol) {
					t.Errorf("%s/%s admits %s on %d/%s by its ingress", dst.namespace, dst.name, src.name, p.ContainerPort, p.Protocol)
				}
			}
		}
	}
}

func TestV3IsSealed(t *testing.T) {
	t.Parallel()
	m := newNetModel(t)
	v3 := m.get(t, "archive-viewer")
	for _, other := range m.endpoints {
		if other.name == v3.name {
			continue
		}
		for _, p := range probePorts(other) {
			if m.egressAllows(v3, other, p.ContainerPort, p.Protocol) {
				t.Errorf("a V3 pod may reach %s on %d/%s", other.name, p.ContainerPort, p.Protocol)
			}
		}
		for _, p := range probePorts(v3) {
			if m.ingressAllows(other, v3, p.ContainerPort, p.Protocol) {
				t.Errorf("%s may reach a V3 pod on %d/%s", other.name, p.ContainerPort, p.Protocol)
			}
		}
	}
	// Structurally too: nothing in V3 carries an allow rule.
	for _, p := range m.policies {
		if p.Namespace == nsV3 && (len(p.Spec.Egress) > 0 || len(p.Spec.Ingress) > 0) {
			t.Errorf("NetworkPolicy %s/%s has allow rules", p.Namespace, p.Name)
		}
	}
}

func TestEveryNamespaceDeniesByDefault(t *testing.T) {
	t.Parallel()
	m := newNetModel(t)
	for _, ns := range []string{nsV1, nsV2, nsV3, nsControl} {
		var found bool
		for _, p := range m.policies {
			found = found || (p.Namespace == ns && len(p.Spec.PodSelector.MatchLabels) == 0 &&
				len(p.Spec.PodSelector.MatchExpressions) == 0 && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 &&
				slices.Equal(policyTypes(p), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}))
		}
		if !found {
			t.Errorf("%s has no default-deny policy for ingress and egress", ns)
		}
	}
}

func TestRequiredPathsAreOpenAndOthersClosed(t *testing.T) {
	t.Parallel()
	m := newNetModel(t)
	udp, tcpP := corev1.ProtocolUDP, corev1.ProtocolTCP
	cases := []struct {
		src, dst string
		port     int32
		proto    corev1.Protocol
		want     bool
	}{
		{"experiments", "kube-dns", 53, udp, true},
		{"gateway", "kube-dns", 53, udp, true},
		{"coordinator", "kube-dns", 53, tcpP, true},
		{"experiments", "nats", 4222, tcpP, true},
		{"gateway", "nats", 4222, tcpP, true},
		{"coordinator", "nats", 4222, tcpP, true},
		{"gateway", "postgresql", 5432, tcpP, true},
		{"coordinator", "postgresql", 5432, tcpP, true},
		{"experiments", "postgresql", 5432, tcpP, false},
		{"experiments", "internet", 443, tcpP, true},
		{"experiments", "internet6", 443, tcpP, true},
		{"gateway", "internet", 443, tcpP, true},
		{"experiments", "internet", 80, tcpP, false},
		{"experiments", "metadata", 443, tcpP, false},
		{"gateway", "metadata", 80, tcpP, false},
		{"experiments", "apiserver", 443, tcpP, false},
		{"gateway", "apiserver", 6443, tcpP, false},
		{"coordinator", "apiserver", 6443, tcpP, true},
		{"ingress", "gateway", 8080, tcpP, true},
		{"ingress", "coordinator", 8080, tcpP, true},
		{"ingress", "experiments", 8080, tcpP, false},
		{"prometheus", "gateway", 8080, tcpP, true},
		{"prometheus", "experiments", 8080, tcpP, true},
		{"prometheus", "coordinator", 8080, tcpP, true},
		{"coordinator", "gateway", 8080, tcpP, false},
		{"coordinator", "experiments", 8080, tcpP, false},
		{"experiments", "coordinator", 8080, tcpP, false},
		{"gateway", "coordinator", 8080, tcpP, false},
		{"experiments", "prometheus", 9090, tcpP, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s to %s %d %s", tc.src, tc.dst, tc.port, tc.proto), func(t *testing.T) {
			t.Parallel()
			if got := m.allows(m.get(t, tc.src), m.get(t, tc.dst), tc.port, tc.proto); got != tc.want {
				t.Errorf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestModelSeesALeak proves the checks above can fail: a policy that lets
// V1 egress anywhere and V2 admit anyone opens V1 to V2.
func TestModelSeesALeak(t *testing.T) {
	t.Parallel()
	m := newNetModel(t)
	v1, v2 := m.get(t, "experiments"), m.get(t, "gateway")
	if m.allows(v1, v2, 8080, corev1.ProtocolTCP) {
		t.Fatal("the shipped policies already let V1 reach V2")
	}
	m.policies = append(m.policies,
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "leak-out", Namespace: nsV1},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "leak-in", Namespace: nsV2},
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}},
	)
	if !m.allows(v1, v2, 8080, corev1.ProtocolTCP) {
		t.Error("the model misses a policy pair that opens V1 to V2")
	}
}
