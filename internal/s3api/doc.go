// Package s3api holds the S3 protocol pieces the gateway's HTTP handlers
// use: the single table of S3 error codes, AWS Signature Version 4
// verification (header, presigned query and aws-chunked streaming
// payloads), payload and checksum verification, Range parsing, bucket and
// key name rules, and the XML shapes of requests and responses.
//
// It works on *http.Request, http.Header and io.Reader and knows nothing of
// the router, so handlers stay thin:
//
//	auth, err := verifier.Verify(r)
//	if err != nil {
//		s3api.WriteError(w, r, s3api.AsError(err), reqID)
//		return
//	}
//	body, err := auth.BodyReader(r)
//	...                        // stream body; commit only after io.EOF
//	sums := body.Checksums()   // verified x-amz-checksum-* values
//
// Every error this package returns to a handler is an *Error carrying its
// S3 code; handlers never choose HTTP statuses themselves.
package s3api
