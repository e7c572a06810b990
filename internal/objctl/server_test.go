package objctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cairn/internal/adminapi"
	"cairn/internal/s3api"
)

const (
	testAccess = "opsadmin"
	testSecret = "opssecret"
	testRegion = "eu-west-3"
)

// call is one request the test server accepted.
type call struct {
	method, path, query string
	body                []byte
	accessKey           string
}

func (c call) String() string {
	s := c.method + " " + c.path
	if c.query != "" {
		s += "?" + c.query
	}
	return s
}

// signedServer is an httptest server that authenticates every request the
// way the gateway does (s3api.Verifier, then the payload hash through
// Auth.BodyReader) before handing it to handle, and records it.
type signedServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []call
	handle func(c call) (status int, reply any)
}

func newSignedServer(t *testing.T, handle func(c call) (int, any)) *signedServer {
	t.Helper()
	s := &signedServer{handle: handle}
	verifier := &s3api.Verifier{Creds: s3api.StaticCredentials{testAccess: testSecret}, Region: testRegion}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, err := verifier.Verify(r)
		if err != nil {
			writeJSON(w, http.StatusForbidden, adminapi.Error{Error: err.Error()})
			return
		}
		payload, err := auth.BodyReader(r)
		if err != nil {
			writeJSON(w, http.StatusForbidden, adminapi.Error{Error: err.Error()})
			return
		}
		body, err := io.ReadAll(payload)
		if err != nil {
			// The body does not match the signed x-amz-content-sha256.
			writeJSON(w, http.StatusForbidden, adminapi.Error{Error: err.Error()})
			return
		}
		c := call{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, body: body, accessKey: auth.AccessKey}
		s.mu.Lock()
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		status, reply := s.handle(c)
		writeJSON(w, status, reply)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if raw, ok := v.(string); ok {
		io.WriteString(w, raw)
		return
	}
	json.NewEncoder(w).Encode(v)
}

func (s *signedServer) callList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.String())
	}
	return out
}

// testEnv is an Env for objctl runs against url, with output captured.
type testEnv struct {
	Env
	stdout, stderr *bytes.Buffer
}

func newTestEnv(url string, vars map[string]string) *testEnv {
	e := &testEnv{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	all := map[string]string{"CAIRN_ADMIN_ENDPOINT": url, "CAIRN_ACCESS_KEY": testAccess, "CAIRN_SECRET_KEY": testSecret,
		"CAIRN_REGION": testRegion}
	for k, v := range vars {
		if v == "" {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	e.Env = Env{
		Stdin:  strings.NewReader(""),
		Stdout: e.stdout, Stderr: e.stderr,
		Lookup: func(k string) (string, bool) {
			v, ok := all[k]
			return v, ok
		},
		ReadFile:     func(name string) ([]byte, error) { return nil, errors.New("no files in this test") },
		PollInterval: 1, // as fast as the server answers
	}
	return e
}

func (e *testEnv) run(args ...string) error {
	return Run(context.Background(), args, e.Env)
}
