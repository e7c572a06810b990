package membership

import (
	"bytes"
	"log"
	"log/slog"
	"strings"
	"testing"
)

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		in        string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5\n", slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{"[INFO] memberlist: Suspect n2 has failed, no acks received\n", slog.LevelDebug, "Suspect n2 has failed, no acks received"},
		{"[WARN] memberlist: Refuting a dead message (from: n1)\n", slog.LevelWarn, "Refuting a dead message (from: n1)"},
		{"[ERR] memberlist: Failed fallback TCP ping: timeout\n", slog.LevelWarn, "Failed fallback TCP ping: timeout"},
		{"[ERR] Failed to shutdown transport: x\n", slog.LevelWarn, "Failed to shutdown transport: x"},
		{"no level at all\n", slog.LevelDebug, "no level at all"},
		{"[unclosed bracket\n", slog.LevelDebug, "[unclosed bracket"},
		{"[TRACE] memberlist: odd level\n", slog.LevelDebug, "odd level"},
		{"", slog.LevelDebug, ""},
	}
	for _, tc := range tests {
		level, msg := parseLogLine([]byte(tc.in))
		if level != tc.wantLevel || msg != tc.wantMsg {
			t.Errorf("parseLogLine(%q) = %v, %q; want %v, %q", tc.in, level, msg, tc.wantLevel, tc.wantMsg)
		}
	}
}

// memberlist talks to a *log.Logger; check the whole path to slog.
func TestLogWriterThroughStdLogger(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := log.New(logWriter{logger: sl}, "", 0)
	l.Printf("[DEBUG] memberlist: hidden %d", 1)
	l.Printf("[WARN] memberlist: shown %d", 2)
	got := buf.String()
	if strings.Contains(got, "hidden") || !strings.Contains(got, `level=WARN msg="shown 2"`) {
		t.Errorf("slog output = %q; want only the WARN line, without its prefix", got)
	}
}
