package cli

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"cairn/internal/nodeauth"
	"cairn/internal/s3api"
)

// SecurityConfig is the TLS and internode authentication setup both
// commands take.
type SecurityConfig struct {
	TLSCert       string // PEM certificate (chain) file; with TLSKey, serve HTTPS
	TLSKey        string // PEM private key file
	ClusterSecret string // shared by every gateway and node; hex or raw, ≥ 16 bytes

	// Derived by validate.
	TLS    *tls.Config     // nil: plain HTTP
	Secret nodeauth.Secret // nil: internode authentication off
}

func (c *SecurityConfig) register(l *Loader, tlsUsage string) {
	l.String(&c.TLSCert, "tls-cert", "", "", "PEM certificate file; with --tls-key, serve "+tlsUsage+" over HTTPS")
	l.String(&c.TLSKey, "tls-key", "", "", "PEM private key file for --tls-cert")
	l.String(&c.ClusterSecret, "cluster-secret", "", "",
		"secret shared by every gateway and node, hex or raw, at least 16 bytes; signs internode requests (prefer the environment or the file)")
}

// validate loads the key pair and parses the secret. Errors never quote
// the secret or the key file's contents.
func (c *SecurityConfig) validate(readFile func(string) ([]byte, error)) []error {
	var errs []error
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
	case c.TLSCert == "" || c.TLSKey == "":
		errs = append(errs, errors.New("--tls-cert and --tls-key: give both or neither"))
	default:
		cert, err1 := readFile(c.TLSCert)
		key, err2 := readFile(c.TLSKey)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert/--tls-key: %w", err))
			break
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert %q, --tls-key %q: %w", c.TLSCert, c.TLSKey, err))
			break
		}
		c.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	s, err := nodeauth.ParseSecret(c.ClusterSecret)
	if err != nil {
		errs = append(errs, fmt.Errorf("--cluster-secret: %w", err))
	}
	c.Secret = s
	return errs
}

// keysFile is the YAML of --keys-file:
//
//	keys:
//	  - access_key: photos-reader
//	    secret_key: "…"
//	    buckets: {photos: r}
//	  - access_key: ingest
//	    secret_key: "…"
//	    buckets: {"*": rw, audit: r}
type keysFile struct {
	Keys []struct {
		AccessKey string            `yaml:"access_key"`
		SecretKey string            `yaml:"secret_key"`
		Buckets   map[string]string `yaml:"buckets"`
		Admin     bool              `yaml:"admin"`
	} `yaml:"keys"`
}

// ParseKeys reads the access keys of a --keys-file. It reports every
// problem at once and never quotes a secret key.
func ParseKeys(path string, data []byte) ([]s3api.AccessKey, error) {
	var f keysFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		// yaml's messages quote lines, which may hold a secret; keep only
		// that the file is malformed.
		return nil, fmt.Errorf("--keys-file %s: not a valid keys file (want keys: [{access_key, secret_key, buckets}])", path)
	}
	var errs []error
	keys := make([]s3api.AccessKey, 0, len(f.Keys))
	for i, k := range f.Keys {
		grants := make(s3api.Grants, len(k.Buckets))
		names := make([]string, 0, len(k.Buckets))
		for b := range k.Buckets {
			names = append(names, b)
		}
		slices.Sort(names)
		for _, b := range names {
			p, err := s3api.ParsePerm(k.Buckets[b])
			if err != nil {
				errs = append(errs, fmt.Errorf("--keys-file %s: key %d (%q): bucket %q: %w", path, i, k.AccessKey, b, err))
			}
			grants[b] = p
		}
		keys = append(keys, s3api.AccessKey{AccessKey: k.AccessKey, SecretKey: k.SecretKey, Buckets: grants, Admin: k.Admin})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// Keyring builds the gateway's keys: the admin key (--access-key,
// --secret-key), which may do everything, the admin API included, and
// those of --keys-file.
func (c *GatewayConfig) Keyring() (*s3api.Keyring, error) {
	admin := s3api.AccessKey{AccessKey: c.AccessKey, SecretKey: c.SecretKey,
		Buckets: s3api.Grants{s3api.AllBuckets: s3api.PermReadWrite}, Admin: true}
	return s3api.NewKeyring(append([]s3api.AccessKey{admin}, c.Keys...))
}

// validateKeys reads --keys-file, if any, into c.Keys and checks the
// whole keyring.
func (c *GatewayConfig) validateKeys(readFile func(string) ([]byte, error)) []error {
	if c.KeysFile != "" {
		data, err := readFile(c.KeysFile)
		if err != nil {
			return []error{fmt.Errorf("--keys-file: %w", err)}
		}
		keys, err := ParseKeys(c.KeysFile, data)
		if err != nil {
			return []error{err}
		}
		c.Keys = keys
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil // reported with the other required settings
	}
	if _, err := c.Keyring(); err != nil {
		return []error{fmt.Errorf("access keys: %w", err)}
	}
	return nil
}
