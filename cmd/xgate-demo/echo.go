package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"xgate/transports/webhook"
)

// echoService stands for the HTTP service behind the webhook transport: it
// accepts xgate's outbound messages and answers each with "echo: <text>",
// POSTed back to xgate's signed inbound endpoint.
type echoService struct {
	r      *runner
	srv    *http.Server
	url    string
	secret []byte
	client *http.Client

	mu     sync.Mutex
	inURL  string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// message is the webhook transport's JSON (see docs/webhook.md).
type message struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
}

func newEchoService(r *runner, domain string, secret []byte) *echoService {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Fatalf("echo service: %v", err)
	}
	e := &echoService{r: r, url: "http://" + ln.Addr().String() + "/hook", secret: secret,
		client: &http.Client{Timeout: 10 * time.Second}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	r.Cleanup(func() {
		e.cancel()
		_ = e.srv.Close()
		e.wg.Wait()
	})
	return e
}

func (e *echoService) URL() string { return e.url }

func (e *echoService) setXgate(inURL string) {
	e.mu.Lock()
	e.inURL = inURL
	e.mu.Unlock()
}

func (e *echoService) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var m message
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&m); err != nil || m.ID == "" {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	e.r.Logf("echo service got %q from %s for %s", m.Body, m.From, m.To)
	reply := message{ID: "echo-" + m.ID, From: m.To, To: m.From, Body: "echo: " + m.Body}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.send(reply)
	}()
}

// send POSTs the reply to xgate, retrying while xgate answers 503.
func (e *echoService) send(m message) {
	body, _ := json.Marshal(m)
	mac := hmac.New(sha256.New, e.secret)
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	e.mu.Lock()
	url := e.inURL
	e.mu.Unlock()
	for attempt := 0; attempt < 10; attempt++ {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.SignatureHeader, sig)
		resp, err := e.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			e.r.Logf("echo service: xgate answered %s", resp.Status)
		}
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(time.Second << attempt):
		}
	}
}
