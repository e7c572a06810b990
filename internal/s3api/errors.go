package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode is an S3 error code, the string clients branch on. Its HTTP
// status and default message come from the one table in this file.
type ErrorCode string

// The S3 error codes Cairn returns. The names are the wire codes.
const (
	AccessDenied                      ErrorCode = "AccessDenied"
	InvalidAccessKeyID                ErrorCode = "InvalidAccessKeyId"
	SignatureDoesNotMatch             ErrorCode = "SignatureDoesNotMatch"
	RequestTimeTooSkewed              ErrorCode = "RequestTimeTooSkewed"
	AuthorizationHeaderMalformed      ErrorCode = "AuthorizationHeaderMalformed"
	AuthorizationQueryParametersError ErrorCode = "AuthorizationQueryParametersError"
	MissingSecurityHeader             ErrorCode = "MissingSecurityHeader"
	InvalidArgument                   ErrorCode = "InvalidArgument"
	InvalidRequest                    ErrorCode = "InvalidRequest"
	InvalidDigest                     ErrorCode = "InvalidDigest"
	BadDigest                         ErrorCode = "BadDigest"
	XAmzContentSHA256Mismatch         ErrorCode = "XAmzContentSHA256Mismatch"
	InvalidBucketName                 ErrorCode = "InvalidBucketName"
	InvalidRange                      ErrorCode = "InvalidRange"
	KeyTooLongError                   ErrorCode = "KeyTooLongError"
	MalformedXML                      ErrorCode = "MalformedXML"
	EntityTooLarge                    ErrorCode = "EntityTooLarge"
	EntityTooSmall                    ErrorCode = "EntityTooSmall"
	IncompleteBody                    ErrorCode = "IncompleteBody"
	MissingContentLength              ErrorCode = "MissingContentLength"
	NoSuchBucket                      ErrorCode = "NoSuchBucket"
	NoSuchKey                         ErrorCode = "NoSuchKey"
	NoSuchUpload                      ErrorCode = "NoSuchUpload"
	NoSuchVersion                     ErrorCode = "NoSuchVersion"
	NoSuchLifecycleConfiguration      ErrorCode = "NoSuchLifecycleConfiguration"
	NotFound                          ErrorCode = "NotFound" // HEAD has no body, so S3 uses this generic code
	BucketAlreadyOwnedByYou           ErrorCode = "BucketAlreadyOwnedByYou"
	BucketAlreadyExists               ErrorCode = "BucketAlreadyExists"
	BucketNotEmpty                    ErrorCode = "BucketNotEmpty"
	MethodNotAllowed                  ErrorCode = "MethodNotAllowed"
	NotImplemented                    ErrorCode = "NotImplemented"
	InternalError                     ErrorCode = "InternalError"
	ServiceUnavailable                ErrorCode = "ServiceUnavailable"
	SlowDown                          ErrorCode = "SlowDown"
	PreconditionFailed                ErrorCode = "PreconditionFailed"
	InvalidPart                       ErrorCode = "InvalidPart"
	InvalidPartOrder                  ErrorCode = "InvalidPartOrder"
	InvalidObjectState                ErrorCode = "InvalidObjectState"
	InvalidTag                        ErrorCode = "InvalidTag"
	NoSuchUploadOrPart                ErrorCode = "NoSuchPart"
	ConditionalRequestConflict        ErrorCode = "ConditionalRequestConflict"
	// InsufficientStorage is not one of S3's (S3 does not fill up): a
	// write every node refused for want of disk space. 507 is not retried
	// by the SDKs, which is right: retrying does not make room.
	InsufficientStorage ErrorCode = "InsufficientStorage"
)

type codeInfo struct {
	status  int
	message string
}

// codes is the single code → status/message table (STYLE B5.6). The
// messages are the ones AWS S3 sends, so SDK error text reads the same.
var codes = map[ErrorCode]codeInfo{
	AccessDenied:                      {http.StatusForbidden, "Access Denied"},
	InvalidAccessKeyID:                {http.StatusForbidden, "The AWS access key Id you provided does not exist in our records."},
	SignatureDoesNotMatch:             {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	RequestTimeTooSkewed:              {http.StatusForbidden, "The difference between the request time and the current time is too large."},
	AuthorizationHeaderMalformed:      {http.StatusBadRequest, "The authorization header is malformed."},
	AuthorizationQueryParametersError: {http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter."},
	MissingSecurityHeader:             {http.StatusBadRequest, "Your request is missing a required header."},
	InvalidArgument:                   {http.StatusBadRequest, "Invalid Argument"},
	InvalidRequest:                    {http.StatusBadRequest, "Invalid Request"},
	InvalidDigest:                     {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	BadDigest:                         {http.StatusBadRequest, "The Content-MD5 you specified did not match what we received."},
	XAmzContentSHA256Mismatch:         {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	InvalidBucketName:                 {http.StatusBadRequest, "The specified bucket is not valid."},
	InvalidRange:                      {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"},
	KeyTooLongError:                   {http.StatusBadRequest, "Your key is too long"},
	MalformedXML:                      {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	EntityTooLarge:                    {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	EntityTooSmall:                    {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	IncompleteBody:                    {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	MissingContentLength:              {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	NoSuchBucket:                      {http.StatusNotFound, "The specified bucket does not exist"},
	NoSuchKey:                         {http.StatusNotFound, "The specified key does not exist."},
	NoSuchUpload:                      {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
	NoSuchVersion:                     {http.StatusNotFound, "The specified version does not exist."},
	NoSuchLifecycleConfiguration:      {http.StatusNotFound, "The lifecycle configuration does not exist."},
	NotFound:                          {http.StatusNotFound, "Not Found"},
	BucketAlreadyOwnedByYou:           {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	BucketAlreadyExists:               {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	BucketNotEmpty:                    {http.StatusConflict, "The bucket you tried to delete is not empty"},
	MethodNotAllowed:                  {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	NotImplemented:                    {http.StatusNotImplemented, "A header you provided implies functionality that is not implemented"},
	InternalError:                     {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	ServiceUnavailable:                {http.StatusServiceUnavailable, "Service is unable to handle request."},
	SlowDown:                          {http.StatusServiceUnavailable, "Please reduce your request rate."},
	InsufficientStorage:               {http.StatusInsufficientStorage, "The storage nodes that could hold this data have no disk space left."},
	PreconditionFailed:                {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold"},
	InvalidPart:                       {http.StatusBadRequest, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
	InvalidPartOrder:                  {http.StatusBadRequest, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	InvalidObjectState:                {http.StatusForbidden, "The operation is not valid for the current state of the object."},
	InvalidTag:                        {http.StatusBadRequest, "The tag provided was not a valid tag."},
	NoSuchUploadOrPart:                {http.StatusNotFound, "The specified part does not exist."},
	ConditionalRequestConflict:        {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Please try again."},
}

// Status is the HTTP status S3 sends with c; unknown codes map to 500,
// because a code missing from the table is our bug, not the client's.
func (c ErrorCode) Status() int {
	if ci, ok := codes[c]; ok {
		return ci.status
	}
	return http.StatusInternalServerError
}

// Message is the default message for c.
func (c ErrorCode) Message() string {
	if ci, ok := codes[c]; ok {
		return ci.message
	}
	return codes[InternalError].message
}

// Error is an S3 error response. Err, when set, is the internal cause: it is
// logged and matched with errors.Is/As but never sent to the client.
type Error struct {
	Code     ErrorCode
	Message  string // empty means Code.Message()
	Resource string // the bucket or object path; WriteError fills it from the request when empty
	Err      error
}

// NewError returns an *Error for code with its default message.
func NewError(code ErrorCode) *Error { return &Error{Code: code} }

// Errorf returns an *Error for code whose message overrides the default.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	s := "s3api: " + string(e.Code) + ": " + e.message()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of e.
func (e *Error) Status() int { return e.Code.Status() }

func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.Message()
}

// AsError returns the *Error in err's chain, or an InternalError wrapping
// err: anything the protocol layer did not classify is a server fault, and
// its text stays out of the response.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalError, Err: err}
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// WriteError writes err as the S3 XML error document with its status. A
// response to HEAD carries the status and headers only, as HTTP requires.
func WriteError(w http.ResponseWriter, r *http.Request, err *Error, requestID string) {
	if err == nil {
		err = NewError(InternalError)
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	if requestID != "" {
		h.Set("x-amz-request-id", requestID)
	}
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(err.Status())
		return
	}
	res := err.Resource
	if res == "" && r != nil && r.URL != nil {
		res = r.URL.Path
	}
	body, mErr := xml.Marshal(errorBody{Code: string(err.Code), Message: err.message(), Resource: res, RequestID: requestID})
	if mErr != nil {
		// xml.Marshal of plain strings cannot fail; keep the status honest anyway.
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(err.Status())
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
