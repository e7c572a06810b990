package gateway

import (
	"context"
	"errors"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/quorum"
	"cairn/transport"
)

// toS3Error is where domain errors become S3 errors. Handlers return domain
// errors or *s3api.Error and never pick an HTTP status themselves; the status
// of each S3 code comes from the table in s3api.
func toS3Error(err error) *s3api.Error {
	var s3err *s3api.Error
	if errors.As(err, &s3err) {
		return s3err
	}
	var qerr *quorum.Error
	switch {
	case errors.Is(err, transport.ErrClockSkew):
		// Nodes refused records stamped too far ahead of their clocks:
		// this gateway's clock runs fast (node/tombstones.go).
		return &s3api.Error{Code: s3api.RequestTimeTooSkewed, Err: err,
			Message: "The gateway's clock is too far ahead of the storage nodes' clocks; the write was refused."}
	case errors.As(err, &qerr) && onlyNoSpace(qerr.Errs):
		return &s3api.Error{Code: s3api.InsufficientStorage, Err: err}
	case errors.As(err, &qerr), errors.Is(err, errUnavailable), errors.Is(err, erasure.ErrTooFewShards):
		return &s3api.Error{Code: s3api.ServiceUnavailable, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &s3api.Error{Code: s3api.ServiceUnavailable, Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return &s3api.Error{Code: s3api.IncompleteBody, Err: err}
	default:
		return &s3api.Error{Code: s3api.InternalError, Err: err}
	}
}

// onlyNoSpace reports whether errs, the failures of a write that fell
// short, are all refusals for want of disk space: then retrying will not
// help until room is made. Mixed failures stay unavailability (nodes that
// are down may come back).
func onlyNoSpace(errs []error) bool {
	for _, e := range errs {
		if !errors.Is(e, transport.ErrNoSpace) {
			return false
		}
	}
	return len(errs) > 0
}
