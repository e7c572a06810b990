// Package e2e holds Cairn's end-to-end tests: real S3 clients (aws-sdk-go-v2
// and minio-go) against whole clusters started in the test process, with
// real HTTP on loopback and pebble in temporary directories.
package e2e
