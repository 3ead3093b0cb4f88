package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const manifestDir = "kubernetes"

// Namespaces of the cycle.
const (
	nsV1      = "platform-v1-exp"
	nsV2      = "platform-v2-stable"
	nsV3      = "platform-v3-quarantine"
	nsControl = "platform-control"
)

// roleNamespace is where each role of the binary runs.
var roleNamespace = map[string]string{
	"gateway":     nsV2,
	"experiments": nsV1,
	"coordinator": nsControl,
}

// newObject returns an empty typed object for a manifest's apiVersion and
// kind; only these kinds may appear in deploy/kubernetes.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ResourceQuota":
		return &corev1.ResourceQuota{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}, true
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}, true
	}
	return nil, false
}

// manifest is one decoded Kubernetes object.
type manifest struct {
	source string // file:document
	kind   string
	obj    any // a pointer to the typed object
	meta   metav1.Object
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests decodes every document of data strictly: YAML duplicate
// keys, JSON fields unknown to the typed object (also when they differ from
// a known field only in case) and unknown kinds are errors.
func decodeManifests(name string, data []byte) ([]manifest, error) {
	var out []manifest
	for i, doc := range docSeparator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		source := fmt.Sprintf("%s:%d", name, i+1)
		m, err := decodeDocument([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		m.source = source
		out = append(out, m)
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func decodeDocument(doc []byte) (manifest, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return manifest{}, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return manifest{}, fmt.Errorf("read kind: %w", err)
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return manifest{}, fmt.Errorf("unexpected apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return manifest{}, fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	// encoding/json matches field names case-insensitively; the API server
	// does not. sigs.k8s.io/json reports such fields as strict errors.
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowUnknownFields)
	if err != nil {
		return manifest{}, fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return manifest{}, fmt.Errorf("decode %s: %w", tm.Kind, errors.Join(strict...))
	}
	meta, ok := obj.(metav1.Object)
	if !ok {
		return manifest{}, fmt.Errorf("%s has no object metadata", tm.Kind)
	}
	if meta.GetName() == "" {
		return manifest{}, fmt.Errorf("%s has no name", tm.Kind)
	}
	return manifest{kind: tm.Kind, obj: obj, meta: meta}, nil
}

// manifestSet is every object of a directory of manifests.
type manifestSet []manifest

// loadManifests decodes every YAML file under dir except kustomization.yaml.
func loadManifests(t *testing.T, dir string) manifestSet {
	t.Helper()
	var set manifestSet
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ms, err := decodeManifests(path, data)
		set = append(set, ms...)
		return err
	})
	if err != nil {
		t.Fatalf("load manifests: %v", err)
	}
	return set
}

// defaultSet is what `kubectl apply -k deploy/kubernetes` applies: the
// manifests outside optional/.
func defaultSet(t *testing.T) manifestSet {
	t.Helper()
	var out manifestSet
	for _, m := range loadManifests(t, manifestDir) {
		if !strings.HasPrefix(m.source, filepath.Join(manifestDir, "optional")) {
			out = append(out, m)
		}
	}
	return out
}

func objectsOf[T any](set manifestSet) []T {
	var out []T
	for _, m := range set {
		if o, ok := m.obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

func (s manifestSet) deployments() []*appsv1.Deployment { return objectsOf[*appsv1.Deployment](s) }

func (s manifestSet) namespaceLabels() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, ns := range objectsOf[*corev1.Namespace](s) {
		labels := map[string]string{"kubernetes.io/metadata.name": ns.Name}
		for k, v := range ns.Labels {
			labels[k] = v
		}
		out[ns.Name] = labels
	}
	return out
}

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown field": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nautomountToken: false\n",
		"field in the wrong case": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n" +
			"spec: {template: {spec: {containers: [{name: c, securityContext: {readOnlyRootFileSystem: true}}]}}}\n",
		"duplicate key":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: x, k: y}\n",
		"unknown kind":      "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n",
		"wrong api version": "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: a}\n",
		"no name":           "apiVersion: v1\nkind: Namespace\nmetadata: {}\n",
		"wrong type":        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: eighty}]}\n",
	}
	for name, doc := range cases {
		if _, err := decodeDocument([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := decodeDocument([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n")); err != nil {
		t.Errorf("a valid Namespace: %v", err)
	}
}

func TestManifestsDeclareTheCycle(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	var got []string
	for _, m := range set {
		got = append(got, m.kind+" "+m.meta.GetNamespace()+"/"+m.meta.GetName())
	}
	want := []string{
		"Namespace /" + nsV1, "Namespace /" + nsV2, "Namespace /" + nsV3, "Namespace /" + nsControl,
		"Deployment " + nsV2 + "/tricycle-gateway", "Service " + nsV2 + "/tricycle-gateway",
		"Deployment " + nsV1 + "/tricycle-experiments", "Service " + nsV1 + "/tricycle-experiments",
		"Deployment " + nsControl + "/tricycle-coordinator", "Service " + nsControl + "/tricycle-coordinator",
		"ConfigMap " + nsV1 + "/tricycle-config", "ConfigMap " + nsV2 + "/tricycle-config", "ConfigMap " + nsControl + "/tricycle-config",
		"NetworkPolicy " + nsV1 + "/default-deny", "NetworkPolicy " + nsV2 + "/default-deny",
		"NetworkPolicy " + nsV3 + "/default-deny", "NetworkPolicy " + nsControl + "/default-deny",
		"Role " + nsV2 + "/tricycle-gateway-scaler",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s", w)
		}
	}
	seen := map[string]string{}
	for _, m := range set {
		key := m.kind + " " + m.meta.GetNamespace() + "/" + m.meta.GetName()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s declared twice: %s and %s", key, prev, m.source)
		}
		seen[key] = m.source
		if m.kind != "Namespace" && !slices.Contains([]string{nsV1, nsV2, nsV3, nsControl}, m.meta.GetNamespace()) {
			t.Errorf("%s: %s is in namespace %q, not one of the cycle's", m.source, m.kind, m.meta.GetNamespace())
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Clone(k.Resources)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %q, want every manifest file %q", got, want)
	}
	if len(k.Images) != 1 {
		t.Fatalf("kustomization sets %d images, want the tricycle image", len(k.Images))
	}
	for _, d := range defaultSet(t).deployments() {
		for _, c := range d.Spec.Template.Spec.Containers {
			name, tag, _ := strings.Cut(c.Image, ":")
			if name != k.Images[0].Name || tag != k.Images[0].NewTag {
				t.Errorf("%s/%s: image %q, kustomization pins %s:%s", d.Name, c.Name, c.Image, k.Images[0].Name, k.Images[0].NewTag)
			}
		}
	}
}

func TestKustomizeBuildDecodes(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	out, err := exec.CommandContext(t.Context(), kubectl, "kustomize", manifestDir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	built, err := decodeManifests("kustomize build", out)
	if err != nil {
		t.Fatalf("decode the build: %v", err)
	}
	if n := len(defaultSet(t)); len(built) != n {
		t.Errorf("the build has %d objects, the manifests %d", len(built), n)
	}
}

func TestEachRoleRunsInItsNamespace(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	configMaps := map[string]bool{}
	for _, cm := range objectsOf[*corev1.ConfigMap](set) {
		configMaps[cm.Namespace+"/"+cm.Name] = true
	}
	for _, d := range set.deployments() {
		role := d.Spec.Template.Labels["app.kubernetes.io/component"]
		if want, ok := roleNamespace[role]; !ok || d.Namespace != want {
			t.Errorf("%s/%s: role %q runs in %s, want %s", d.Namespace, d.Name, role, d.Namespace, want)
			continue
		}
		if !labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%s: selector %v does not select its own pods %v", d.Name, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if want := []string{"serve", "--role", role, "--config", "/etc/tricycle/tricycle.yaml"}; !slices.Equal(c.Args, want) {
			t.Errorf("%s: args %q, want %q", d.Name, c.Args, want)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil && !configMaps[d.Namespace+"/"+v.ConfigMap.Name] {
				t.Errorf("%s: mounts ConfigMap %s, which is not in %s", d.Name, v.ConfigMap.Name, d.Namespace)
			}
		}
		usesDB := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "TRICYCLE_DB" })
		if wantDB := role != "experiments"; usesDB != wantDB {
			t.Errorf("%s: TRICYCLE_DB set = %v, want %v (only the gateway and the coordinator use the store)", d.Name, usesDB, wantDB)
		}
	}
}

func TestServicesAndBudgetsSelectTheirPods(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	deps := set.deployments()
	find := func(ns string, sel map[string]string) *appsv1.Deployment {
		for _, d := range deps {
			if d.Namespace == ns && len(sel) > 0 && labelsMatch(sel, d.Spec.Template.Labels) {
				return d
			}
		}
		return nil
	}
	for _, s := range objectsOf[*corev1.Service](set) {
		d := find(s.Namespace, s.Spec.Selector)
		if d == nil {
			t.Errorf("Service %s/%s selects no Deployment's pods", s.Namespace, s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Ports, func(cp corev1.ContainerPort) bool {
				return cp.Name == p.TargetPort.String() || cp.ContainerPort == int32(p.TargetPort.IntValue())
			}) {
				t.Errorf("Service %s/%s targets port %s, which %s does not declare", s.Namespace, s.Name, p.TargetPort.String(), d.Name)
			}
		}
	}
	for _, b := range objectsOf[*policyv1.PodDisruptionBudget](set) {
		if find(b.Namespace, b.Spec.Selector.MatchLabels) == nil {
			t.Errorf("PodDisruptionBudget %s/%s selects no Deployment's pods", b.Namespace, b.Name)
		}
	}
}

func TestGatewayReplicasBelongToTheScaler(t *testing.T) {
	t.Parallel()
	for _, d := range defaultSet(t).deployments() {
		if d.Name == "tricycle-gateway" && d.Spec.Replicas != nil {
			t.Errorf("the gateway Deployment sets replicas: %d; re-applying the manifests would undo the health monitor's scale-ups", *d.Spec.Replicas)
		}
	}
}

func TestOnlyTheCoordinatorReachesTheKubernetesAPI(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	roles := objectsOf[*rbacv1.Role](set)
	bindings := objectsOf[*rbacv1.RoleBinding](set)
	if len(roles) != 1 || len(bindings) != 1 {
		t.Fatalf("%d Roles and %d RoleBindings, want exactly one of each", len(roles), len(bindings))
	}
	role, binding := roles[0], bindings[0]
	want := []rbacv1.PolicyRule{{
		APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"},
		ResourceNames: []string{"tricycle-gateway"}, Verbs: []string{"get", "patch", "update"},
	}}
	if role.Namespace != nsV2 || fmt.Sprint(role.Rules) != fmt.Sprint(want) {
		t.Errorf("Role %s/%s grants %v, want exactly %v in %s", role.Namespace, role.Name, role.Rules, want, nsV2)
	}
	if binding.Namespace != role.Namespace || binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name {
		t.Errorf("RoleBinding %s/%s binds %v, want Role %s", binding.Namespace, binding.Name, binding.RoleRef, role.Name)
	}
	wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: "tricycle-coordinator", Namespace: nsControl}
	if len(binding.Subjects) != 1 || binding.Subjects[0] != wantSubject {
		t.Errorf("RoleBinding subjects %v, want only %v", binding.Subjects, wantSubject)
	}
	for _, sa := range objectsOf[*corev1.ServiceAccount](set) {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s/%s mounts its token by default", sa.Namespace, sa.Name)
		}
	}
	for _, d := range set.deployments() {
		pod := d.Spec.Template.Spec
		mounts := pod.AutomountServiceAccountToken != nil && *pod.AutomountServiceAccountToken
		isCoordinator := d.Namespace == wantSubject.Namespace && pod.ServiceAccountName == wantSubject.Name
		if mounts != isCoordinator {
			t.Errorf("%s/%s mounts an API token: %v, want %v", d.Namespace, d.Name, mounts, isCoordinator)
		}
	}
	var gateway bool
	for _, d := range set.deployments() {
		gateway = gateway || (d.Namespace == role.Namespace && d.Name == role.Rules[0].ResourceNames[0])
	}
	if !gateway {
		t.Errorf("the Role names Deployment %q, which is not in %s", role.Rules[0].ResourceNames[0], role.Namespace)
	}
}

func TestOptionalEventRoleOnlyCreatesEvents(t *testing.T) {
	t.Parallel()
	var roles []*rbacv1.Role
	for _, m := range loadManifests(t, filepath.Join(manifestDir, "optional")) {
		if r, ok := m.obj.(*rbacv1.Role); ok {
			roles = append(roles, r)
		}
	}
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}}}
	if len(roles) != 1 || roles[0].Namespace != nsV2 || fmt.Sprint(roles[0].Rules) != fmt.Sprint(want) {
		t.Errorf("optional Roles %v, want one in %s granting only %v", roles, nsV2, want)
	}
}

func TestV3RunsNothing(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	for _, m := range set {
		if m.meta.GetNamespace() == nsV3 && (m.kind == "Deployment" || m.kind == "Service") {
			t.Errorf("%s: %s in the quarantine namespace", m.source, m.kind)
		}
	}
	var quota bool
	for _, q := range objectsOf[*corev1.ResourceQuota](set) {
		pods, ok := q.Spec.Hard[corev1.ResourcePods]
		quota = quota || (q.Namespace == nsV3 && ok && pods.IsZero())
	}
	if !quota {
		t.Error("no ResourceQuota holds the quarantine namespace at zero pods")
	}
}

// labelsMatch reports whether every pair of sel is in labels.
func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
