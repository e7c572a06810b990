package nodeauth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	testSecret = Secret("0123456789abcdef-cluster-secret")
	t0         = time.Unix(1_700_000_000, 0)
)

func signed(m Message) (Message, Headers) {
	h := Headers{Time: fmt.Sprint(m.Time), Nonce: m.Nonce, Body: m.BodyHash, Signature: Sign(testSecret, &m)}
	// The receiver knows only what is on the wire.
	m.Time, m.Nonce, m.BodyHash = 0, "", ""
	return m, h
}

func baseMessage(nonce byte) Message {
	return Message{
		Method: "PUT",
		URI:    "/v1/shard?b=photos&i=2&k=cat.jpg&v=0001",
		Node:   "n1",
		Length: 1 << 20,
		Time:   t0.Unix(),
		Nonce:  strings.Repeat(fmt.Sprintf("%02x", nonce), NonceLen),
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(m *Message, h *Headers)
		now    time.Time
		want   error
	}{
		{"valid", func(*Message, *Headers) {}, t0, nil},
		{"valid at window edge", func(*Message, *Headers) {}, t0.Add(DefaultWindow), nil},
		{"valid early clock", func(*Message, *Headers) {}, t0.Add(-DefaultWindow), nil},
		{"expired", func(*Message, *Headers) {}, t0.Add(DefaultWindow + time.Second), ErrExpired},
		{"from the future", func(*Message, *Headers) {}, t0.Add(-DefaultWindow - time.Second), ErrExpired},
		{"unsigned", func(m *Message, h *Headers) { *h = Headers{} }, t0, ErrUnsigned},
		{"method", func(m *Message, h *Headers) { m.Method = "DELETE" }, t0, ErrBadSignature},
		{"path", func(m *Message, h *Headers) { m.URI = strings.Replace(m.URI, "/v1/shard", "/v1/hint/shard", 1) }, t0, ErrBadSignature},
		{"query", func(m *Message, h *Headers) { m.URI = strings.Replace(m.URI, "i=2", "i=3", 1) }, t0, ErrBadSignature},
		{"body length", func(m *Message, h *Headers) { m.Length++ }, t0, ErrBadSignature},
		{"target node", func(m *Message, h *Headers) { m.Node = "n2" }, t0, ErrBadSignature},
		{"timestamp", func(m *Message, h *Headers) { h.Time = fmt.Sprint(t0.Unix() + 1) }, t0, ErrBadSignature},
		{"nonce", func(m *Message, h *Headers) { h.Nonce = strings.Repeat("ee", NonceLen) }, t0, ErrBadSignature},
		{"body hash added", func(m *Message, h *Headers) { h.Body = HashBody([]byte("x")) }, t0, ErrBadSignature},
		{"signature", func(m *Message, h *Headers) { h.Signature = sigPrefix + strings.Repeat("0", 64) }, t0, ErrBadSignature},
		{"wrong secret", func(m *Message, h *Headers) {
			mm := baseMessage(1)
			h.Signature = Sign(Secret("another-secret-of-16+bytes"), &mm)
		}, t0, ErrBadSignature},
		{"bad time", func(m *Message, h *Headers) { h.Time = "soon" }, t0, ErrMalformed},
		{"short nonce", func(m *Message, h *Headers) { h.Nonce = "abcd" }, t0, ErrMalformed},
		{"upper hex nonce", func(m *Message, h *Headers) { h.Nonce = strings.ToUpper(h.Nonce) }, t0, ErrMalformed},
		{"no prefix", func(m *Message, h *Headers) { h.Signature = strings.TrimPrefix(h.Signature, sigPrefix) }, t0, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(testSecret, "n1")
			if err != nil {
				t.Fatal(err)
			}
			m, h := signed(baseMessage(0xab))
			tc.tamper(&m, &h)
			if _, err := v.Verify(m, h, tc.now); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%s) = %v; want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestVerifyWrongNode(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n2")
	m, h := signed(baseMessage(1)) // signed for n1, honestly
	if _, err := v.Verify(m, h, t0); !errors.Is(err, ErrWrongNode) {
		t.Errorf("Verify(signed for n1) on n2 = %v; want ErrWrongNode", err)
	}
	any, _ := NewVerifier(testSecret, "")
	if _, err := any.Verify(m, h, t0); err != nil {
		t.Errorf("Verify on a verifier without node ID = %v; want nil", err)
	}
}

func TestVerifyBodyHash(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n1")
	msg := baseMessage(2)
	msg.BodyHash = HashBody([]byte("record"))
	m, h := signed(msg)
	got, err := v.Verify(m, h, t0)
	if err != nil {
		t.Fatalf("Verify = %v; want nil", err)
	}
	if got.BodyHash != msg.BodyHash {
		t.Errorf("Verify().BodyHash = %q; want %q", got.BodyHash, msg.BodyHash)
	}
	h.Body = ""
	h.Nonce = strings.Repeat("03", NonceLen)
	if _, err := v.Verify(m, h, t0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(body hash stripped) = %v; want ErrBadSignature", err)
	}
}

func TestReplay(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n1")
	m, h := signed(baseMessage(7))
	if _, err := v.Verify(m, h, t0); err != nil {
		t.Fatalf("first Verify = %v", err)
	}
	for _, d := range []time.Duration{0, time.Second, DefaultWindow} {
		if _, err := v.Verify(m, h, t0.Add(d)); !errors.Is(err, ErrReplayed) {
			t.Errorf("replay after %v = %v; want ErrReplayed", d, err)
		}
	}
	// Many other requests later, across rotations, the nonce is still
	// refused while its timestamp is acceptable, and expired after.
	for i := range 5 {
		now := t0.Add(time.Duration(i) * DefaultWindow / 2)
		mm := baseMessage(byte(0x10 + i))
		mm.Time = now.Unix()
		mi, hi := signed(mm)
		if _, err := v.Verify(mi, hi, now); err != nil {
			t.Errorf("Verify(fresh %d) = %v", i, err)
		}
	}
	if _, err := v.Verify(m, h, t0.Add(DefaultWindow)); !errors.Is(err, ErrReplayed) {
		t.Errorf("replay at window end after rotations = %v; want ErrReplayed", err)
	}
	if _, err := v.Verify(m, h, t0.Add(DefaultWindow+time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("replay after window = %v; want ErrExpired", err)
	}
}

// A request signed at the far end of the future tolerance stays refused
// for its whole validity, which spans two windows of the verifier's clock.
func TestReplayFutureTimestamp(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n1")
	msg := baseMessage(9)
	msg.Time = t0.Add(DefaultWindow).Unix()
	m, h := signed(msg)
	if _, err := v.Verify(m, h, t0); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	for now := t0; !now.After(t0.Add(2 * DefaultWindow)); now = now.Add(5 * time.Second) {
		// Keep the cache rotating as traffic would.
		f := baseMessage(byte(now.Sub(t0) / time.Second))
		f.Nonce = fmt.Sprintf("%032x", now.UnixNano())
		f.Time = now.Unix()
		fm, fh := signed(f)
		v.Verify(fm, fh, now)
		if _, err := v.Verify(m, h, now); !errors.Is(err, ErrReplayed) {
			t.Errorf("replay at %v = %v; want ErrReplayed", now.Sub(t0), err)
		}
	}
}

func TestReplayCacheBound(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n1", WithMaxNonces(2))
	for i, want := range []error{nil, nil, ErrBusy} {
		m, h := signed(baseMessage(byte(i + 1)))
		if _, err := v.Verify(m, h, t0); !errors.Is(err, want) {
			t.Errorf("Verify #%d = %v; want %v", i, err, want)
		}
	}
	// After the generation rotates, room again.
	later := t0.Add(2 * DefaultWindow)
	msg := baseMessage(9)
	msg.Time = later.Unix()
	m, h := signed(msg)
	if _, err := v.Verify(m, h, later); err != nil {
		t.Errorf("Verify after rotation = %v; want nil", err)
	}
}

func TestForgedRequestDoesNotBurnNonce(t *testing.T) {
	v, _ := NewVerifier(testSecret, "n1")
	m, h := signed(baseMessage(5))
	bad := h
	bad.Signature = sigPrefix + strings.Repeat("1", 64)
	v.Verify(m, bad, t0)
	if _, err := v.Verify(m, h, t0); err != nil {
		t.Errorf("Verify after a forgery with the same nonce = %v; want nil", err)
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret("super-secret-value-123")
	for _, verb := range []string{"%v", "%s", "%x", "%q", "%#v", "%+v", "%d"} {
		out := fmt.Sprintf(verb, s)
		if strings.Contains(out, "super") || strings.Contains(out, fmt.Sprintf("%x", []byte(s))) {
			t.Errorf("Sprintf(%q, secret) = %q; reveals the secret", verb, out)
		}
	}
	out := fmt.Sprintf("%v", struct{ S Secret }{s})
	if strings.Contains(out, "super") {
		t.Errorf("Sprintf of a struct holding a secret = %q", out)
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{"tiny1", "", true},
		{"a-raw-secret-of-enough-bytes", "a-raw-secret-of-enough-bytes", false},
		{"00112233445566778899aabbccddeeff", "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", false},
		{"0011", "", true},
	}
	for _, tc := range tests {
		got, err := ParseSecret(tc.in)
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("ParseSecret(%q) = %q, %v; want %q, err %v", tc.in, []byte(got), err, tc.want, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseSecret(%q) error %q reveals the input", tc.in, err)
		}
	}
	if _, err := NewVerifier(Secret("short"), "n1"); !errors.Is(err, ErrShortSecret) {
		t.Errorf("NewVerifier(short) = %v; want ErrShortSecret", err)
	}
}
