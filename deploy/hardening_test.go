package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestWorkloadsAreHardened(t *testing.T) {
	t.Parallel()
	deps := defaultSet(t).deployments()
	if len(deps) != len(roleNamespace) {
		t.Fatalf("%d Deployments, want one per role (%d)", len(deps), len(roleNamespace))
	}
	for _, d := range deps {
		for _, err := range podProblems(d.Spec.Template.Spec) {
			t.Errorf("%s/%s: %v", d.Namespace, d.Name, err)
		}
	}
}

// podProblems lists every way pod falls short of the hardening rules.
func podProblems(pod corev1.PodSpec) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		add("pod does not set runAsNonRoot")
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		add("pod does not run as a non-zero user id")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		add("pod seccomp profile is not RuntimeDefault")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		add("pod shares a host namespace")
	}
	if pod.ServiceAccountName == "" || pod.ServiceAccountName == "default" {
		add("pod runs as the default service account")
	}
	if len(pod.InitContainers) > 0 {
		add("init containers are not checked: add them to podProblems")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			add("container %s: no securityContext", c.Name)
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			add("container %s: root filesystem is writable", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("container %s: privilege escalation is allowed", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			add("container %s: privileged", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("container %s: runs as root", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			add("container %s: capabilities are not all dropped", c.Name)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[res]
			lim, hasLim := c.Resources.Limits[res]
			if !hasReq || !hasLim {
				add("container %s: %s request and limit must both be set", c.Name, res)
			} else if req.Cmp(lim) > 0 {
				add("container %s: %s request %s exceeds its limit %s", c.Name, res, req.String(), lim.String())
			}
		}
		if err := probeProblem(c, c.LivenessProbe, "/healthz"); err != nil {
			add("container %s: liveness: %v", c.Name, err)
		}
		if err := probeProblem(c, c.ReadinessProbe, "/readyz"); err != nil {
			add("container %s: readiness: %v", c.Name, err)
		}
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
			add("container %s: image %q is not pinned to a tag", c.Name, c.Image)
		}
	}
	return errs
}

// probeProblem checks that p is an HTTP GET of path on a port c declares.
func probeProblem(c corev1.Container, p *corev1.Probe, path string) error {
	if p == nil || p.HTTPGet == nil {
		return errors.New("no HTTP probe")
	}
	if p.HTTPGet.Path != path {
		return fmt.Errorf("probes %q, want %q", p.HTTPGet.Path, path)
	}
	for _, port := range c.Ports {
		if p.HTTPGet.Port.String() == port.Name || int32(p.HTTPGet.Port.IntValue()) == port.ContainerPort {
			return nil
		}
	}
	return fmt.Errorf("probes port %s, which the container does not declare", p.HTTPGet.Port.String())
}

func TestHardeningCheckCatchesWeakPods(t *testing.T) {
	t.Parallel()
	good := defaultSet(t).deployments()[0].Spec.Template.Spec
	if errs := podProblems(good); len(errs) > 0 {
		t.Fatalf("the shipped pod fails: %v", errs)
	}
	f, tr := false, true
	root := int64(0)
	cases := map[string]func(*corev1.PodSpec){
		"writable root": func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.ReadOnlyRootFilesystem = &f },
		"escalation":    func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.AllowPrivilegeEscalation = &tr },
		"root user":     func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.RunAsUser = &root },
		"root pod":      func(p *corev1.PodSpec) { p.SecurityContext.RunAsNonRoot = &f },
		"no limits":     func(p *corev1.PodSpec) { p.Containers[0].Resources.Limits = nil },
		"added capability": func(p *corev1.PodSpec) {
			p.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		},
		"no seccomp":         func(p *corev1.PodSpec) { p.SecurityContext.SeccompProfile = nil },
		"liveness elsewhere": func(p *corev1.PodSpec) { p.Containers[0].LivenessProbe.HTTPGet.Path = "/" },
		"no readiness":       func(p *corev1.PodSpec) { p.Containers[0].ReadinessProbe = nil },
		"host network":       func(p *corev1.PodSpec) { p.HostNetwork = true },
		"latest image":       func(p *corev1.PodSpec) { p.Containers[0].Image = "ghcr.io/tricyclehq/tricycle:latest" },
	}
	for name, mutate := range cases {
		p := *good.DeepCopy()
		mutate(&p)
		if errs := podProblems(p); len(errs) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}
