package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// gatewayMetrics are the collectors a gateway registers on Config.Metrics.
type gatewayMetrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	requests *prometheus.CounterVec   // op, status
	duration *prometheus.HistogramVec // op
	bytesIn  *prometheus.CounterVec   // op
	bytesOut *prometheus.CounterVec   // op
}

// latencyBuckets span a cached HEAD on loopback (~1 ms) to a multi-GiB PUT.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

func (g *Gateway) registerMetrics() error {
	if g.cfg.Metrics == nil {
		return nil
	}
	m := &gatewayMetrics{
		reg: g.cfg.Metrics,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_gateway_requests_total",
			Help: "S3 requests answered, by operation and HTTP status.",
		}, []string{"op", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_gateway_request_duration_seconds",
			Help:    "Time from the first byte of an S3 request to the end of its response, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_gateway_received_bytes_total",
			Help: "Request body bytes read from S3 clients, by operation.",
		}, []string{"op"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_gateway_sent_bytes_total",
			Help: "Response body bytes written to S3 clients, by operation.",
		}, []string{"op"}),
	}
	st := &g.stats
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	m.collectors = []prometheus.Collector{
		m.requests, m.duration, m.bytesIn, m.bytesOut,
		counter("cairn_gateway_shard_reads_total", "Shard reads opened on nodes by GET and HEAD.", &st.ShardReads),
		counter("cairn_gateway_prefetched_shards_total", "Shards a GET decoded from what came with the records it read.", &st.PrefetchedShards),
		counter("cairn_gateway_shard_read_failures_total", "Shard reads that failed other than by checksum mismatch.", &st.FailedShardReads),
		counter("cairn_gateway_checksum_failures_total", "Fragments read whose checksum did not match (bitrot or corruption).", &st.CorruptShards),
		counter("cairn_gateway_hedged_reads_total", "Reads that opened one shard more because a node was slow.", &st.HedgedReads),
		counter("cairn_gateway_shard_writes_total", "Shards stored on a home or, as a hint, on a fallback.", &st.ShardWrites),
		counter("cairn_gateway_shard_write_failures_total", "Shard write attempts a node did not take.", &st.FailedShardWrites),
		counter("cairn_gateway_restamped_writes_total", "Small writes stamped again because a home held a newer record of the key (clock behind another gateway's, or a racing write).", &st.RestampedWrites),
		counter("cairn_gateway_repaired_shards_total", "Shards rebuilt on their home by read repair.", &st.RepairedShards),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_gateway_nodes_alive",
			Help: "Storage nodes of the layout that membership reports alive.",
		}, func() float64 { return float64(g.aliveNodes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_gateway_nodes",
			Help: "Storage nodes in the layout.",
		}, func() float64 { return float64(len(g.layout().Nodes)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_gateway_write_quorum_nodes",
			Help: "Live nodes a write needs: the metadata write quorum of homes.",
		}, func() float64 { return float64(g.params.MetaWrite) }),
	}
	for i, c := range m.collectors {
		if err := m.reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				m.reg.Unregister(done)
			}
			return fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	g.metrics = m
	return nil
}

func (g *Gateway) unregisterMetrics() {
	if g.metrics == nil {
		return
	}
	for _, c := range g.metrics.collectors {
		g.metrics.reg.Unregister(c)
	}
}

// observe is the middleware that counts every request by S3 operation.
func (g *Gateway) observe(c *gin.Context) {
	start := time.Now()
	body := &countingBody{ReadCloser: c.Request.Body}
	if c.Request.Body != nil {
		c.Request.Body = body
	}
	// Deferred so that a response cut short by http.ErrAbortHandler (a GET
	// whose body failed after the headers) still counts.
	defer func() {
		bucket, key := g.target(c.Request)
		op := s3Op(c.Request, bucket, key)
		m := g.metrics
		m.requests.WithLabelValues(op, strconv.Itoa(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		m.bytesIn.WithLabelValues(op).Add(float64(body.n.Load()))
		if n := c.Writer.Size(); n > 0 {
			m.bytesOut.WithLabelValues(op).Add(float64(n))
		}
	}()
	c.Next()
}

// countingBody counts the bytes a handler reads from a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// s3Op names the S3 operation of a request for metrics, following the same
// dispatch as serveS3, serveBucketExtra and serveObjectExtra. Names are
// the S3 API's; anything the gateway does not serve is "Other", so the
// label's values stay few whatever clients send.
func s3Op(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	has := func(name string) bool { _, ok := q[name]; return ok }
	m := r.Method
	switch {
	case bucket == "":
		if m == http.MethodGet {
			return "ListBuckets"
		}
	case key == "":
		switch {
		case has("uploads") && m == http.MethodGet:
			return "ListMultipartUploads"
		case has("delete") && m == http.MethodPost:
			return "DeleteObjects"
		case has("location") && m == http.MethodGet:
			return "GetBucketLocation"
		case has("versioning") && m == http.MethodGet:
			return "GetBucketVersioning"
		case hasAny(q, unsupportedBucket) || has("versioning"):
			return "Other"
		case m == http.MethodPut:
			return "CreateBucket"
		case m == http.MethodHead:
			return "HeadBucket"
		case m == http.MethodDelete:
			return "DeleteBucket"
		case m == http.MethodGet && q.Get("list-type") == "2":
			return "ListObjectsV2"
		case m == http.MethodGet:
			return "ListObjects"
		}
	default:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case has("uploads") && m == http.MethodPost:
			return "CreateMultipartUpload"
		case has("uploadId") && m == http.MethodPut && copySource:
			return "UploadPartCopy"
		case has("uploadId") && m == http.MethodPut:
			return "UploadPart"
		case has("uploadId") && m == http.MethodPost:
			return "CompleteMultipartUpload"
		case has("uploadId") && m == http.MethodDelete:
			return "AbortMultipartUpload"
		case has("uploadId") && m == http.MethodGet:
			return "ListParts"
		case has("tagging") && m == http.MethodPut:
			return "PutObjectTagging"
		case has("tagging") && m == http.MethodGet:
			return "GetObjectTagging"
		case has("tagging") && m == http.MethodDelete:
			return "DeleteObjectTagging"
		case has("attributes") && m == http.MethodGet:
			return "GetObjectAttributes"
		case hasAny(q, unsupportedObject):
			return "Other"
		case copySource && m == http.MethodPut:
			return "CopyObject"
		case m == http.MethodPut:
			return "PutObject"
		case m == http.MethodGet:
			return "GetObject"
		case m == http.MethodHead:
			return "HeadObject"
		case m == http.MethodDelete:
			return "DeleteObject"
		}
	}
	return "Other"
}

// errNotReady marks a gateway that cannot meet its write quorum.
var errNotReady = errors.New("gateway: not ready")

// aliveNodes counts the layout's nodes that Config.Alive reports up.
func (g *Gateway) aliveNodes() int {
	n := 0
	for _, nd := range g.layout().Nodes {
		if g.cfg.Alive == nil || g.cfg.Alive(string(nd.ID)) {
			n++
		}
	}
	return n
}

// Ready reports whether enough nodes are alive for writes to succeed: the
// metadata write quorum (N−m homes; shards whose home is down go to
// fallbacks as hints, but records must reach homes). It is the gateway's
// readiness check; the error says how many nodes are missing.
func (g *Gateway) Ready() error {
	alive, need := g.aliveNodes(), g.params.MetaWrite
	if alive < need {
		return fmt.Errorf("%w: %d of %d nodes alive, writes need %d", errNotReady, alive, len(g.layout().Nodes), need)
	}
	return nil
}
