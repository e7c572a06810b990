package s3api

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePerm(t *testing.T) {
	tests := []struct {
		in      string
		want    Perm
		wantErr bool
	}{
		{"", 0, false},
		{"none", 0, false},
		{"r", PermRead, false},
		{"w", PermWrite, false},
		{"rw", PermReadWrite, false},
		{"wr", PermReadWrite, false},
		{"R", 0, true},
		{"rwx", 0, true},
		{"read", 0, true},
	}
	for _, tc := range tests {
		got, err := ParsePerm(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParsePerm(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadPerm) {
			t.Errorf("ParsePerm(%q) error %v; want ErrBadPerm", tc.in, err)
		}
		if err == nil && tc.want != 0 {
			if back, _ := ParsePerm(got.String()); back != got {
				t.Errorf("ParsePerm(%v.String()) = %v; want %v", got, back, got)
			}
		}
	}
}

func TestGrantsAllows(t *testing.T) {
	tests := []struct {
		name   string
		grants Grants
		bucket string
		need   Perm
		want   bool
	}{
		{"star rw reads", Grants{"*": PermReadWrite}, "a", PermRead, true},
		{"star rw writes", Grants{"*": PermReadWrite}, "a", PermWrite, true},
		{"star r writes", Grants{"*": PermRead}, "a", PermWrite, false},
		{"named r reads", Grants{"photos": PermRead}, "photos", PermRead, true},
		{"named r writes", Grants{"photos": PermRead}, "photos", PermWrite, false},
		{"named other bucket", Grants{"photos": PermReadWrite}, "docs", PermRead, false},
		{"named overrides star", Grants{"*": PermReadWrite, "audit": PermRead}, "audit", PermWrite, false},
		{"star applies to rest", Grants{"*": PermReadWrite, "audit": PermRead}, "logs", PermWrite, true},
		{"named none hides", Grants{"*": PermReadWrite, "private": 0}, "private", PermRead, false},
		{"named widens star", Grants{"*": PermRead, "scratch": PermReadWrite}, "scratch", PermWrite, true},
		{"write only cannot read", Grants{"drop": PermWrite}, "drop", PermRead, false},
		{"need both", Grants{"b": PermRead}, "b", PermReadWrite, false},
		{"nil grants", nil, "b", PermRead, false},
		{"star is not a wildcard name", Grants{"photos": PermRead}, "*", PermRead, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.grants.Allows(tc.bucket, tc.need); got != tc.want {
				t.Errorf("%v.Allows(%q, %v) = %v; want %v", tc.grants, tc.bucket, tc.need, got, tc.want)
			}
		})
	}
}

func TestKeyring(t *testing.T) {
	grants := Grants{"photos": PermRead}
	k, err := NewKeyring([]AccessKey{
		{AccessKey: "admin", SecretKey: "s1", Buckets: Grants{"*": PermReadWrite}},
		{AccessKey: "reader", SecretKey: "s2", Buckets: grants},
	})
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	grants["photos"] = PermReadWrite // the keyring keeps its own copy
	tests := []struct {
		key, bucket string
		need        Perm
		want        bool
	}{
		{"admin", "anything", PermReadWrite, true},
		{"reader", "photos", PermRead, true},
		{"reader", "photos", PermWrite, false},
		{"reader", "docs", PermRead, false},
		{"nobody", "photos", PermRead, false},
	}
	for _, tc := range tests {
		if got := k.Allowed(tc.key, tc.bucket, tc.need); got != tc.want {
			t.Errorf("Allowed(%q, %q, %v) = %v; want %v", tc.key, tc.bucket, tc.need, got, tc.want)
		}
	}
	if s, ok := k.Lookup("reader"); !ok || s != "s2" {
		t.Errorf("Lookup(reader) = %q, %v; want s2, true", s, ok)
	}
	if _, ok := k.Lookup("nobody"); ok {
		t.Errorf("Lookup(nobody) found a secret")
	}
	if got, want := k.AccessKeys(), []string{"admin", "reader"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AccessKeys() = %v; want %v", got, want)
	}
}

func TestNewKeyringErrors(t *testing.T) {
	_, err := NewKeyring([]AccessKey{
		{AccessKey: "", SecretKey: "x"},
		{AccessKey: "a", SecretKey: ""},
		{AccessKey: "b", SecretKey: "topsecret-b"},
		{AccessKey: "b", SecretKey: "topsecret-b2"},
		{AccessKey: "c", SecretKey: "topsecret-c", Buckets: Grants{"": PermRead}},
	})
	if err == nil {
		t.Fatal("NewKeyring accepted bad keys")
	}
	msg := err.Error()
	for _, want := range []string{"key 0: empty access key", `"a": empty secret key`, `"b": configured twice`, `"c": empty bucket name`} {
		if !strings.Contains(msg, want) {
			t.Errorf("NewKeyring error %q; want it to mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "topsecret") {
		t.Errorf("NewKeyring error %q reveals a secret key", msg)
	}
}

func TestRequirements(t *testing.T) {
	tests := []struct {
		method, bucket, src string
		want                []Requirement
	}{
		{"GET", "", "", nil},
		{"GET", "b", "", []Requirement{{"b", PermRead}}},
		{"HEAD", "b", "", []Requirement{{"b", PermRead}}},
		{"PUT", "b", "", []Requirement{{"b", PermWrite}}},
		{"POST", "b", "", []Requirement{{"b", PermWrite}}},
		{"DELETE", "b", "", []Requirement{{"b", PermWrite}}},
		{"PATCH", "b", "", []Requirement{{"b", PermWrite}}},
		{"PUT", "dst", "src", []Requirement{{"dst", PermWrite}, {"src", PermRead}}},
	}
	for _, tc := range tests {
		if got := Requirements(tc.method, tc.bucket, tc.src); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Requirements(%q, %q, %q) = %v; want %v", tc.method, tc.bucket, tc.src, got, tc.want)
		}
	}
}
