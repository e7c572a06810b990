package transport

import (
	"context"
	"testing"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"set", WithRequestID(context.Background(), "ABC123"), "ABC123"},
		{"inner wins", WithRequestID(WithRequestID(context.Background(), "outer"), "inner"), "inner"},
		{"survives WithoutCancel", context.WithoutCancel(WithRequestID(context.Background(), "r1")), "r1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestIDFrom(tc.ctx); got != tc.want {
				t.Errorf("RequestIDFrom(%s) = %q; want %q", tc.name, got, tc.want)
			}
		})
	}
}
