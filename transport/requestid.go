package transport

import "context"

// HeaderRequestID carries the S3 request ID from a gateway to the nodes it
// calls for that request, so that log lines on both sides can be joined.
const HeaderRequestID = "X-Cairn-Request-Id"

type requestIDKey struct{}

// WithRequestID returns a context carrying the S3 request ID id. Node
// clients that cross a process boundary send it along (HeaderRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
