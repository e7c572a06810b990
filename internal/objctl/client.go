// Package objctl is the operator's command-line client of a Cairn gateway's
// admin API (internal/adminapi): cluster status, layout changes with their
// preview, drains, heals and the durability model. cmd/objctl only wires it
// to the process; everything here takes its input and output as arguments,
// so that tests drive it in-process.
package objctl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"cairn/internal/adminapi"
)

// maxReplyBytes bounds an admin API reply; a status of thousands of nodes
// stays far below it.
const maxReplyBytes = 32 << 20

// Client calls a gateway's admin API, signing every request with SigV4
// (service "s3") as the gateway's verifier expects.
type Client struct {
	endpoint *url.URL
	creds    aws.Credentials
	region   string
	http     *http.Client
	signer   *v4.Signer
	// now is the signing clock; tests skew it.
	now func() time.Time
}

// NewClient returns a client of the admin API at endpoint
// ("http://127.0.0.1:9001", possibly with a path prefix). hc nil means a
// client with a one-minute timeout: apply waits for the nodes to adopt the
// new layout before it answers.
func NewClient(endpoint, accessKey, secretKey, region string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want http://host:port or https://host:port", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("endpoint %q: no query or fragment, please", endpoint)
	}
	if accessKey == "" || secretKey == "" {
		return nil, fmt.Errorf("no credentials: set --access-key and --secret-key (or CAIRN_ACCESS_KEY and CAIRN_SECRET_KEY)")
	}
	if region == "" {
		return nil, fmt.Errorf("no region: set --region to the gateway's")
	}
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{
		endpoint: u,
		creds:    aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "objctl"},
		region:   region,
		http:     hc,
		signer:   v4.NewSigner(),
		now:      time.Now,
	}, nil
}

// APIError is an error reply of the admin API.
type APIError struct {
	StatusCode int
	Message    string
	// Problems say why a layout change was refused (409).
	Problems []string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d)", msg, e.StatusCode)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Call sends one signed request: in, when not nil, is the JSON body; the
// reply's JSON is decoded into out, when not nil, and returned as sent.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, in, out any) ([]byte, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	u := *c.endpoint
	u.Path = c.endpoint.Path + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	// The gateway's verifier requires the header, and the signer signs it
	// with the other x-amz-* headers.
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err = c.signer.SignHTTP(ctx, c.creds, req, payloadHash, "s3", c.region, c.now(), func(o *v4.SignerOptions) {
		// S3 signs the path as sent, not escaped twice.
		o.DisableURIPathEscaping = true
	})
	if err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if len(raw) > maxReplyBytes {
		return nil, fmt.Errorf("%s %s: reply over %d bytes", method, path, maxReplyBytes)
	}
	if resp.StatusCode/100 != 2 {
		return nil, replyError(resp, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: the reply is not the expected JSON: %w", method, path, err)
		}
	}
	return raw, nil
}

// replyError makes an APIError of a non-2xx reply, which is an
// adminapi.Error unless something in between (a proxy, a gateway without
// the admin API) answered instead.
func replyError(resp *http.Response, raw []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode}
	var body adminapi.Error
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Message, e.Problems = body.Error, body.Problems
		return e
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = text
	if resp.StatusCode == http.StatusNotFound {
		e.Message = "no admin API here: is --endpoint the gateway's admin listener?"
	}
	return e
}

// Status returns the cluster's status.
func (c *Client) Status(ctx context.Context) (*adminapi.Status, error) {
	var st adminapi.Status
	_, err := c.Call(ctx, http.MethodGet, "/admin/v1/status", nil, nil, &st)
	return &st, err
}

// Layout returns the applied layout and the staged change with its preview.
func (c *Client) Layout(ctx context.Context) (*adminapi.LayoutView, error) {
	var v adminapi.LayoutView
	_, err := c.Call(ctx, http.MethodGet, "/admin/v1/layout", nil, nil, &v)
	return &v, err
}

// Stage adds ch to the staged change.
func (c *Client) Stage(ctx context.Context, ch adminapi.LayoutChange) (*adminapi.LayoutView, error) {
	var v adminapi.LayoutView
	_, err := c.Call(ctx, http.MethodPost, "/admin/v1/layout/stage", nil, ch, &v)
	return &v, err
}

// Apply applies the staged change and returns the new layout.
func (c *Client) Apply(ctx context.Context) (*adminapi.LayoutView, error) {
	var v adminapi.LayoutView
	_, err := c.Call(ctx, http.MethodPost, "/admin/v1/layout/apply", nil, nil, &v)
	return &v, err
}

// Revert drops the staged change.
func (c *Client) Revert(ctx context.Context) (*adminapi.LayoutView, error) {
	var v adminapi.LayoutView
	_, err := c.Call(ctx, http.MethodPost, "/admin/v1/layout/revert", nil, nil, &v)
	return &v, err
}

// Heal starts a scanner pass on every live node.
func (c *Client) Heal(ctx context.Context, bucket string) (*adminapi.Status, error) {
	var st adminapi.Status
	_, err := c.Call(ctx, http.MethodPost, "/admin/v1/heal", healQuery(bucket), nil, &st)
	return &st, err
}

func healQuery(bucket string) url.Values {
	if bucket == "" {
		return nil
	}
	return url.Values{"bucket": {bucket}}
}

// Durability returns the durability model for a disk annual failure rate
// afr; zero leaves it to the gateway's default.
func (c *Client) Durability(ctx context.Context, afr float64) (*adminapi.Durability, error) {
	var d adminapi.Durability
	_, err := c.Call(ctx, http.MethodGet, "/admin/v1/durability", durabilityQuery(afr), nil, &d)
	return &d, err
}

func durabilityQuery(afr float64) url.Values {
	if afr == 0 {
		return nil
	}
	return url.Values{"afr": {strconv.FormatFloat(afr, 'g', -1, 64)}}
}
