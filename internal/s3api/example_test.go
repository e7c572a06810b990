package s3api_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"cairn/internal/s3api"
)

// The presigned-URL example of the Amazon S3 SigV4 documentation.
func ExampleVerifier() {
	v := &s3api.Verifier{
		Creds: s3api.StaticCredentials{"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Now:   func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) },
	}
	r := httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt"+
		"?X-Amz-Algorithm=AWS4-HMAC-SHA256"+
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"+
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"+
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", nil)
	auth, err := v.Verify(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(auth.AccessKey, auth.Scope, auth.Presigned)
	// Output: AKIAIOSFODNN7EXAMPLE 20130524/us-east-1/s3/aws4_request true
}

func ExampleParseRange() {
	start, length, ok, err := s3api.ParseRange("bytes=-10", 100)
	fmt.Println(start, length, ok, err)
	_, _, _, err = s3api.ParseRange("bytes=100-", 100)
	fmt.Println(err.(*s3api.Error).Status())
	// Output:
	// 90 10 true <nil>
	// 416
}
