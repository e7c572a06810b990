package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"cairn/internal/s3api"
)

func testKeyPair(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

const testKeysFile = `keys:
  - access_key: reader
    secret_key: reader-secret-value
    buckets: {photos: r}
  - access_key: ingest
    secret_key: ingest-secret-value
    buckets: {"*": rw, audit: r}
`

func TestLoadGatewaySecurity(t *testing.T) {
	cert, key := testKeyPair(t)
	fsys := files(map[string]string{"c.pem": cert, "k.pem": key, "keys.yaml": testKeysFile,
		"badkeys.yaml": "keys:\n  - access_key: x\n    secret_key: leaky-secret-value\n    buckets: {b: rwx}\n",
		"junk.yaml":    "keys:\n  - access_key: x\n    secret_key: leaky-secret-value\n    colour: blue\n"})
	base := []string{"--nodes", nodes6}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr []string // substrings; none means success
	}{
		{"defaults: no TLS, no secret", nil, nil, nil},
		{"tls", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, nil},
		{"tls cert only", []string{"--tls-cert", "c.pem"}, nil, []string{"give both or neither"}},
		{"tls key mismatch", []string{"--tls-cert", "k.pem", "--tls-key", "c.pem"}, nil, []string{"--tls-cert"}},
		{"tls missing file", []string{"--tls-cert", "nope.pem", "--tls-key", "k.pem"}, nil, []string{"nope.pem"}},
		{"cluster secret from env", nil, map[string]string{"CAIRN_CLUSTER_SECRET": "a-long-enough-cluster-secret"}, nil},
		{"cluster secret short", nil, map[string]string{"CAIRN_CLUSTER_SECRET": "tiny-leaky"}, []string{"--cluster-secret", "too short"}},
		{"keys file", []string{"--keys-file", "keys.yaml"}, nil, nil},
		{"keys file bad perm", []string{"--keys-file", "badkeys.yaml"}, nil, []string{`bucket "b"`}},
		{"keys file unknown field", []string{"--keys-file", "junk.yaml"}, nil, []string{"not a valid keys file"}},
		{"keys file duplicates admin", []string{"--keys-file", "keys.yaml", "--access-key", "reader"}, nil, []string{`"reader": configured twice`}},
		{"all at once", []string{"--tls-cert", "c.pem", "--keys-file", "badkeys.yaml"},
			map[string]string{"CAIRN_CLUSTER_SECRET": "tiny-leaky"}, []string{"give both", `bucket "b"`, "too short"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadGateway(append(append([]string{}, base...), tc.args...), mapEnv(tc.env), fsys, io.Discard)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("LoadGateway = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadGateway succeeded; want errors %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadGateway error %q; want it to mention %q", err, w)
				}
			}
			for _, secret := range []string{"leaky", "BEGIN EC PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("LoadGateway error %q reveals a secret (%q)", err, secret)
				}
			}
		})
	}
}

func TestLoadGatewayKeyring(t *testing.T) {
	cert, key := testKeyPair(t)
	fsys := files(map[string]string{"c.pem": cert, "k.pem": key, "keys.yaml": testKeysFile})
	c, err := LoadGateway([]string{"--nodes", nodes6, "--keys-file", "keys.yaml", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
		mapEnv(map[string]string{"CAIRN_CLUSTER_SECRET": "a-long-enough-cluster-secret"}), fsys, io.Discard)
	if err != nil {
		t.Fatalf("LoadGateway = %v", err)
	}
	if c.Security.TLS == nil || len(c.Security.TLS.Certificates) != 1 {
		t.Errorf("Security.TLS = %v; want one certificate", c.Security.TLS)
	}
	if string(c.Security.Secret) != "a-long-enough-cluster-secret" {
		t.Errorf("Security.Secret not parsed")
	}
	k, err := c.Keyring()
	if err != nil {
		t.Fatalf("Keyring = %v", err)
	}
	tests := []struct {
		key, bucket string
		need        s3api.Perm
		want        bool
	}{
		{"cairnadmin", "anything", s3api.PermReadWrite, true},
		{"reader", "photos", s3api.PermRead, true},
		{"reader", "photos", s3api.PermWrite, false},
		{"reader", "other", s3api.PermRead, false},
		{"ingest", "logs", s3api.PermWrite, true},
		{"ingest", "audit", s3api.PermWrite, false},
		{"ingest", "audit", s3api.PermRead, true},
	}
	for _, tc := range tests {
		if got := k.Allowed(tc.key, tc.bucket, tc.need); got != tc.want {
			t.Errorf("Allowed(%q, %q, %v) = %v; want %v", tc.key, tc.bucket, tc.need, got, tc.want)
		}
	}
}

func TestLoadNodeSecurity(t *testing.T) {
	c, err := LoadNode([]string{"--id", "n1", "--data", "/d", "--nodes", nodes6, "--cluster-secret", "00112233445566778899aabbccddeeff"},
		mapEnv(nil), files(nil), io.Discard)
	if err != nil {
		t.Fatalf("LoadNode = %v", err)
	}
	if len(c.Security.Secret) != 16 {
		t.Errorf("hex cluster secret decoded to %d bytes; want 16", len(c.Security.Secret))
	}
	if _, err := LoadNode([]string{"--id", "n1", "--data", "/d", "--nodes", nodes6, "--tls-key", "k.pem"},
		mapEnv(nil), files(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "give both") {
		t.Errorf("LoadNode(--tls-key only) = %v; want a both-or-neither error", err)
	}
}
