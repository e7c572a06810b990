package membership

import (
	"bytes"
	"context"
	"log/slog"
)

// logWriter turns memberlist's log lines, "[LEVEL] memberlist: message", into
// slog records. memberlist writes each line with one Write call.
type logWriter struct {
	logger *slog.Logger
}

// Write never fails: losing a log line must not break gossip.
func (w logWriter) Write(p []byte) (int, error) {
	level, msg := parseLogLine(p)
	if w.logger.Enabled(context.Background(), level) {
		w.logger.Log(context.Background(), level, msg)
	}
	return len(p), nil
}

// parseLogLine maps memberlist's level prefix to a slog level. INFO goes to
// debug: memberlist says "info" about routine protocol steps, and membership
// logs the state changes that matter itself. ERR goes to warn: memberlist
// uses it for failures its protocol tolerates, such as an unreachable peer.
func parseLogLine(p []byte) (slog.Level, string) {
	line := bytes.TrimSpace(p)
	level := slog.LevelDebug
	if rest, ok := bytes.CutPrefix(line, []byte("[")); ok {
		if tag, after, ok := bytes.Cut(rest, []byte("]")); ok {
			switch string(tag) {
			case "DEBUG", "INFO":
				level = slog.LevelDebug
			case "WARN", "ERR", "ERROR":
				level = slog.LevelWarn
			}
			line = bytes.TrimSpace(after)
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	return level, string(line)
}
