package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No container engine runs where the tests do: these tests read the
// Dockerfile, .dockerignore and docker-compose.yml and check the lines that
// make the image static, minimal and non-root.

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM and the instructions that follow it.
type stage struct {
	from, name   string
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into global ARGs and build stages,
// substituting the global ARGs' defaults into FROM lines.
func parseDockerfile(src string) (map[string]string, []stage, error) {
	var (
		lines   []string
		current strings.Builder
	)
	for _, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		if current.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue // an empty line or a comment inside a continued instruction
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			current.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		current.WriteString(line)
		lines = append(lines, current.String())
		current.Reset()
	}
	if current.Len() > 0 {
		return nil, nil, fmt.Errorf("the last instruction ends with a line continuation")
	}
	args := map[string]string{}
	var stages []stage
	for _, l := range lines {
		cmd, rest, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest)}
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case in.cmd == "FROM":
			from := os.Expand(in.args, func(k string) string { return args[k] })
			image, name, _ := strings.Cut(from, " AS ")
			if !strings.Contains(from, " AS ") {
				image, name, _ = strings.Cut(from, " as ")
			}
			stages = append(stages, stage{from: strings.TrimSpace(image), name: strings.TrimSpace(name)})
		case len(stages) == 0:
			return nil, nil, fmt.Errorf("%s before the first FROM", in.cmd)
		default:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	if len(stages) == 0 {
		return nil, nil, fmt.Errorf("no FROM")
	}
	return args, stages, nil
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// manifestUID returns the runAsUser the Kubernetes manifests use.
func manifestUID(t *testing.T) int64 {
	t.Helper()
	deps := defaultSet(t).deployments()
	if len(deps) == 0 || deps[0].Spec.Template.Spec.SecurityContext.RunAsUser == nil {
		t.Fatal("no Deployment with a runAsUser")
	}
	return *deps[0].Spec.Template.Spec.SecurityContext.RunAsUser
}

func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	t.Parallel()
	_, stages, err := parseDockerfile(readFile(t, "../Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[1]
	if !regexp.MustCompile(`^golang:1\.26(\.\d+)?(-[a-z0-9]+)?$`).MatchString(build.from) || build.name == "" {
		t.Errorf("build stage FROM %q AS %q, want golang:1.26 with a name", build.from, build.name)
	}
	var built bool
	for _, run := range build.all("RUN") {
		if strings.Contains(run.args, "go build") {
			built = true
			if !strings.Contains(run.args, "CGO_ENABLED=0") || !strings.Contains(run.args, "./cmd/tricycle") {
				t.Errorf("go build %q: want CGO_ENABLED=0 and ./cmd/tricycle", run.args)
			}
			if !strings.Contains(run.args, "-trimpath") {
				t.Errorf("go build %q: want -trimpath for a reproducible binary", run.args)
			}
		}
	}
	if !built {
		t.Error("the build stage never runs go build")
	}

	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("runtime stage FROM %q, want gcr.io/distroless/static…:nonroot", final.from)
	}
	if runs := final.all("RUN"); len(runs) > 0 {
		t.Errorf("the runtime stage runs %q: it has no shell", runs[0].args)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage sets no USER")
	}
	user := users[len(users)-1].args
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.ParseInt(uid, 10, 64); err != nil || n == 0 || n != manifestUID(t) {
		t.Errorf("USER %q, want the numeric non-root uid %d the manifests run as", user, manifestUID(t))
	}
	var fromBuild bool
	for _, c := range final.all("COPY") {
		fromBuild = fromBuild || strings.Contains(c.args, "--from="+build.name+" /out/tricycle ")
	}
	if !fromBuild {
		t.Error("the runtime stage does not copy the binary from the build stage")
	}
	eps := final.all("ENTRYPOINT")
	var ep []string
	if len(eps) != 1 || json.Unmarshal([]byte(eps[0].args), &ep) != nil || len(ep) == 0 {
		t.Errorf("ENTRYPOINT %v, want one in exec (JSON) form", eps)
	}
	if ex := final.all("EXPOSE"); len(ex) != 1 || ex[0].args != "8080" {
		t.Errorf("EXPOSE %v, want 8080, the port the manifests probe", ex)
	}
}

func TestParseDockerfileRejectsBrokenFiles(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"no from":              "RUN true\n",
		"dangling line":        "FROM scratch\nRUN a \\\n",
		"only comments":        "# nothing\n",
		"instruction and args": "COPY a b\nFROM scratch\n",
	} {
		if _, _, err := parseDockerfile(src); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	args, stages, err := parseDockerfile("ARG V=1.26\nFROM golang:${V} AS b\nRUN a \\\n  # note\n  b\n")
	if err != nil || args["V"] != "1.26" || len(stages) != 1 || stages[0].from != "golang:1.26" ||
		stages[0].name != "b" || stages[0].instructions[0].args != "a b" {
		t.Errorf("parsed %v %+v, %v", args, stages, err)
	}
}

// ignored reports whether .dockerignore patterns exclude path (a
// slash-separated path relative to the context root).
func ignored(patterns []string, path string) bool {
	out := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		p = strings.TrimSuffix(p, "/")
		for dir := path; dir != "." && dir != "/"; dir = filepath.Dir(dir) {
			if ok, _ := filepath.Match(p, dir); ok {
				out = !neg
				break
			}
		}
	}
	return out
}

func TestDockerignoreKeepsTheSources(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, l := range strings.Split(readFile(t, "../.dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd/tricycle/main.go", "coordination/doc.go",
		"internal/web/templates/index.html", "internal/store/postgres/migrations/0001.sql", "testdata/golden/x.json"} {
		if ignored(patterns, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
	for _, drop := range []string{".git/config", "tricycle.db", "admin.token", "deploy/kubernetes/gateway.yaml", "tricycle"} {
		if !ignored(patterns, drop) {
			t.Errorf(".dockerignore sends %s to the build", drop)
		}
	}
}

func TestComposeRunsTheStack(t *testing.T) {
	t.Parallel()
	type service struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		User        string         `yaml:"user"`
		ReadOnly    bool           `yaml:"read_only"`
		CapDrop     []string       `yaml:"cap_drop"`
		SecurityOpt []string       `yaml:"security_opt"`
		Healthcheck map[string]any `yaml:"healthcheck"`
		Restart     string         `yaml:"restart"`
		Tmpfs       []string       `yaml:"tmpfs"`
	}
	var compose struct {
		Name     string              `yaml:"name"`
		Services map[string]service  `yaml:"services"`
		Volumes  map[string]struct{} `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "../docker-compose.yml")))
	dec.KnownFields(true)
	if err := dec.Decode(&compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, nats, app := compose.Services["postgres"], compose.Services["nats"], compose.Services["tricycle"]
	for name, s := range map[string]service{"postgres": pg, "nats": nats} {
		if s.Image == "" || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
			t.Errorf("%s: image %q is not pinned", name, s.Image)
		}
		if s.Healthcheck == nil {
			t.Errorf("%s: no healthcheck for tricycle to wait on", name)
		}
	}
	if !slices.Contains(nats.Command, "--jetstream") || !slices.Contains(nats.Command, "--store_dir") {
		t.Errorf("nats command %q, want JetStream with a store directory", nats.Command)
	}
	store := nats.Command[slices.Index(nats.Command, "--store_dir")+1]
	if !slices.ContainsFunc(nats.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+store) }) {
		t.Errorf("nats stores in %s, which no volume keeps", store)
	}
	if app.Build == nil || app.Command[0] != "serve" {
		t.Errorf("tricycle: build %v, command %q; want the local image running serve", app.Build, app.Command)
	}
	if !strings.HasPrefix(app.Environment["TRICYCLE_DB"], "postgres://") || !strings.Contains(app.Environment["TRICYCLE_DB"], "@postgres:5432/") {
		t.Errorf("tricycle: TRICYCLE_DB %q, want the postgres service", app.Environment["TRICYCLE_DB"])
	}
	if app.Environment["TRICYCLE_BUS"] != "nats://nats:4222" {
		t.Errorf("tricycle: TRICYCLE_BUS %q, want nats://nats:4222", app.Environment["TRICYCLE_BUS"])
	}
	for _, dep := range []string{"postgres", "nats"} {
		if app.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("tricycle starts before %s is healthy", dep)
		}
	}
	uid, _, _ := strings.Cut(app.User, ":")
	if n, err := strconv.ParseInt(uid, 10, 64); err != nil || n == 0 {
		t.Errorf("tricycle: user %q, want a numeric non-root uid", app.User)
	}
	if !app.ReadOnly || !slices.Contains(app.CapDrop, "ALL") || !slices.Contains(app.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("tricycle: read_only %v, cap_drop %v, security_opt %v; want read-only, no capabilities, no new privileges",
			app.ReadOnly, app.CapDrop, app.SecurityOpt)
	}
	for _, p := range app.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("tricycle: port %q is published beyond loopback", p)
		}
	}
	for _, v := range append(append(pg.Volumes, nats.Volumes...), app.Volumes...) {
		name, _, _ := strings.Cut(v, ":")
		if _, ok := compose.Volumes[name]; !ok {
			t.Errorf("volume %q is not declared", name)
		}
	}
}
