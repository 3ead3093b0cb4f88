package httpapi

import (
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// OpenAPI returns the OpenAPI 3 document of every route, generated from the
// route table: paths, methods, the permission each needs and the roles that
// hold it, query and path parameters, and request and response schemas
// derived from the Go types.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	paths := map[string]map[string]any{}
	for _, rt := range s.Routes() {
		ops := paths[rt.Path]
		if ops == nil {
			ops = map[string]any{}
			paths[rt.Path] = ops
		}
		ops[strings.ToLower(rt.Method)] = g.operation(rt)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "tricycle API",
			"version":     "v1",
			"description": "The three-version self-evolving cycle of an AI code review platform: experiments (V1), production and canary promotions (V2), quarantine (V3).",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "A token from POST /api/v1/tokens or the admin token written at first start."},
			},
		},
	}
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, s.OpenAPI())
}

var pathParamRE = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)(\.\.\.)?\}`)

var roles = []coordination.Role{coordination.RoleAdmin, coordination.RoleUser, coordination.RoleSystem}

func (g *schemaGen) operation(rt Route) map[string]any {
	op := map[string]any{
		"operationId": operationID(rt),
		"summary":     rt.Summary,
	}
	var params []any
	for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Query {
		params = append(params, map[string]any{"name": q, "in": "query", "required": false,
			"schema": map[string]any{"type": "string"}})
	}
	if rt.Stream {
		params = append(params, map[string]any{"name": "Last-Event-ID", "in": "header", "required": false,
			"schema": map[string]any{"type": "string"}})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{
			"required": !rt.RequestOptional,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Request))}},
		}
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if rt.Response != nil {
		media := "application/json"
		if rt.Stream {
			media = "text/event-stream"
		}
		ok["content"] = map[string]any{media: map[string]any{"schema": g.schema(reflect.TypeOf(rt.Response))}}
	}
	errRef := g.schema(reflect.TypeOf(ErrorBody{}))
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	responses := map[string]any{strconv.Itoa(status): ok}
	if rt.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []any{}}}
		op["x-permission"] = string(rt.Permission)
		var allowed []string
		for _, r := range roles {
			if r.Allowed(rt.Permission) {
				allowed = append(allowed, string(r))
			}
		}
		op["x-roles"] = allowed
		responses["401"] = errResp("No valid bearer token")
		responses["403"] = errResp("The token's role lacks " + string(rt.Permission))
	}
	if rt.Request != nil || len(rt.Query) > 0 {
		responses["400"] = errResp("Invalid input; the message names the field")
	}
	if rt.Request != nil {
		responses["413"] = errResp("Request body too large")
		responses["415"] = errResp("Request body is not application/json")
	}
	if strings.Contains(rt.Path, "{") {
		responses["404"] = errResp("No such object")
	}
	if rt.Method != http.MethodGet {
		responses["409"] = errResp("Invalid transition, conflict or blacklisted")
	}
	responses["500"] = errResp("Internal error")
	op["responses"] = responses
	return op
}

// operationID derives a stable identifier from the method and path:
// "POST /api/v1/experiments/{id}/start" → "post_experiments_id_start".
func operationID(rt Route) string {
	p := strings.TrimPrefix(rt.Path, apiPrefix)
	p = pathParamRE.ReplaceAllString(p, "$1")
	p = strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(strings.Trim(p, "/"))
	return strings.ToLower(rt.Method) + "_" + p
}

// schemaGen derives JSON schemas from Go types, naming struct types in
// components.schemas.
type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType          = reflect.TypeOf(time.Time{})
	rawMessageType    = reflect.TypeOf(json.RawMessage{})
	durationType      = reflect.TypeOf(coordination.Duration(0))
	jsonMarshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawMessageType:
		return map[string]any{}
	case durationType:
		return map[string]any{"type": "string", "description": "a Go duration such as 800ms or 168h"}
	}
	if t.Kind() != reflect.Struct && (t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType)) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Struct:
		return g.ref(t)
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	default:
		return map[string]any{}
	}
}

// ref names a struct type in components.schemas and returns a $ref to it.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name, ok := g.names[t]
	if !ok {
		name = schemaName(t)
		for i := 2; g.schemas[name] != nil; i++ {
			name = schemaName(t) + strconv.Itoa(i)
		}
		g.names[t] = name
		g.schemas[name] = map[string]any{} // placeholder: breaks recursion
		props := map[string]any{}
		g.properties(t, props)
		g.schemas[name] = map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// properties adds t's JSON fields to props, flattening embedded structs as
// encoding/json does.
func (g *schemaGen) properties(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.properties(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
}

var genericRE = regexp.MustCompile(`^(\w+)\[\*?(?:[\w./-]*\.)?(\w+)\]$`)

// schemaName is a struct's name; List[*coordination.Experiment] becomes
// ExperimentList.
func schemaName(t reflect.Type) string {
	n := t.Name()
	if m := genericRE.FindStringSubmatch(n); m != nil {
		return m[2] + m[1]
	}
	if n == "" {
		return "Object"
	}
	return strings.NewReplacer("[", "_", "]", "", "*", "", "/", "_", ".", "_").Replace(n)
}
