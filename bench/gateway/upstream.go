package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// answerContent is the fake model's answer: one finding as JSON.
const answerContent = `{"summary":"The change builds a SQL query from user input.","findings":[{"file":"store/users.go","line":12,"severity":"high","category":"security","rule":"sql-injection","message":"The query concatenates the name parameter.","suggestion":"Use a placeholder and pass name as an argument."}]}`

// upstreamBody is the fixed chat completion the fake upstream answers.
var upstreamBody = func() []byte {
	body, err := json.Marshal(map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-model",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]string{"role": "assistant", "content": answerContent}}},
		"usage": map[string]int{"prompt_tokens": 900, "completion_tokens": 90, "total_tokens": 990},
	})
	if err != nil {
		panic(err)
	}
	return body
}()

// serveUpstream answers every POST with upstreamBody at once.
func serveUpstream(ctx context.Context) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(upstreamBody)
	})
	return serve(ctx, h)
}

// serve listens on a loopback port, announces it on stdout as
// "LISTEN http://addr" and serves h until ctx ends.
func serve(ctx context.Context, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// transport is the client transport of every role: keep-alive connections,
// enough of them per host for the arrival rate.
func transport() *http.Transport {
	return &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true}
}
