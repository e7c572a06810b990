package metadata

import (
	"bytes"
	"slices"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"bucket", BucketKey("photos"), "b/photos"},
		{"object", ObjectRecordKey("photos", "2025/cat.jpg"), "o/photos/2025/cat.jpg"},
		{"object with NUL", ObjectRecordKey("b", "a\x00b"), "o/b/a\x00b"},
		{"object, empty key", ObjectRecordKey("b", ""), "o/b/"},
		{"prefix", ObjectPrefix("photos", "2025/"), "o/photos/2025/"},
		{"whole bucket", ObjectPrefix("photos", ""), "o/photos/"},
		{"buckets", BucketKeysPrefix(), "b/"},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("%s: key = %q; want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestSplitObjectRecordKey(t *testing.T) {
	tests := []struct {
		in          string
		bucket, key string
		ok          bool
	}{
		{"o/photos/2025/cat.jpg", "photos", "2025/cat.jpg", true},
		{"o/b/", "b", "", true},
		{"o/b//x/", "b", "/x/", true},
		{"o/b/\x00ü", "b", "\x00ü", true},
		{"o//key", "", "", false},
		{"o/nobucketslash", "", "", false},
		{"b/photos", "", "", false},
		{"o", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		b, k, ok := SplitObjectRecordKey([]byte(tc.in))
		if b != tc.bucket || k != tc.key || ok != tc.ok {
			t.Errorf("SplitObjectRecordKey(%q) = %q, %q, %v; want %q, %q, %v", tc.in, b, k, ok, tc.bucket, tc.key, tc.ok)
		}
	}
	// Every key made by ObjectRecordKey splits back.
	for _, key := range []string{"", "a", "a/b", "/", "\x00", "日本/語"} {
		b, k, ok := SplitObjectRecordKey(ObjectRecordKey("bkt", key))
		if b != "bkt" || k != key || !ok {
			t.Errorf("SplitObjectRecordKey(ObjectRecordKey(%q, %q)) = %q, %q, %v", "bkt", key, b, k, ok)
		}
	}
}

func TestSplitBucketKey(t *testing.T) {
	tests := []struct {
		in     string
		bucket string
		ok     bool
	}{
		{"b/photos", "photos", true},
		{"b/", "", false},
		{"b/a/b", "", false},
		{"o/photos/x", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if b, ok := SplitBucketKey([]byte(tc.in)); b != tc.bucket || ok != tc.ok {
			t.Errorf("SplitBucketKey(%q) = %q, %v; want %q, %v", tc.in, b, ok, tc.bucket, tc.ok)
		}
	}
}

// TestObjectKeysSortInKeyOrder checks the property listings rely on: a
// bucket's records sort by object key, and no other bucket's records fall
// between them, even for buckets that are prefixes of each other.
func TestObjectKeysSortInKeyOrder(t *testing.T) {
	type obj struct{ bucket, key string }
	objs := []obj{
		{"a", "z"}, {"a", ""}, {"a", "a/b"}, {"a", "a\x00"}, {"a", "a"}, {"a", "a0"},
		{"ab", ""}, {"ab", "a"}, {"a-b", "x"}, {"a.b", "\xff"},
	}
	var keys [][]byte
	for _, o := range objs {
		keys = append(keys, ObjectRecordKey(o.bucket, o.key))
	}
	slices.SortFunc(keys, bytes.Compare)

	var inA []string
	prefix := ObjectPrefix("a", "")
	for _, k := range keys {
		if bytes.HasPrefix(k, prefix) {
			_, key, _ := SplitObjectRecordKey(k)
			inA = append(inA, key)
		}
	}
	want := []string{"", "a", "a\x00", "a/b", "a0", "z"}
	if !slices.Equal(inA, want) {
		t.Errorf("keys under ObjectPrefix(%q, \"\") = %q; want %q", "a", inA, want)
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		in, want []byte
	}{
		{[]byte("o/b/"), []byte("o/b0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("a\xff\xff"), []byte("b")},
		{[]byte{0xff}, nil},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("PrefixEnd(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	// The input is not modified.
	in := []byte("abc")
	PrefixEnd(in)
	if string(in) != "abc" {
		t.Errorf("PrefixEnd modified its input to %q", in)
	}
}
