package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// countingHandler counts the WithAttrs calls that reach the wrapped handler.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{h.Handler.WithAttrs(attrs), h.withAttrs}
}

func newLogger(buf *bytes.Buffer, calls *int) *slog.Logger {
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(&lazyAttrs{inner: countingHandler{text, calls}})
}

func TestAttributesOfUnwrittenRecordsAreNeverFormatted(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	logger := newLogger(&buf, &calls)
	for range 100 {
		logger.With("sql", "INSERT INTO t VALUES (?)", "args", `{"_id":"x"}`).Debug("exec")
	}
	if calls != 0 || buf.Len() != 0 {
		t.Fatalf("formatted %d times, wrote %q", calls, buf.String())
	}
}

func TestAWrittenRecordCarriesEveryAttributeInOrder(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	logger := newLogger(&buf, &calls).With("a", 1)
	logger.With("b", 2).Warn("slow", "c", 3)
	line := buf.String()
	if !strings.Contains(line, "msg=slow a=1 b=2 c=3") {
		t.Fatalf("got %q", line)
	}
	buf.Reset()
	logger.Warn("again") // "b" was added to a derived logger only
	if strings.Contains(buf.String(), "b=2") || !strings.Contains(buf.String(), "a=1") {
		t.Fatalf("got %q", buf.String())
	}
}

func TestAGroupKeepsEarlierAttributesOutsideIt(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	newLogger(&buf, &calls).With("conn", "c1").WithGroup("op").With("k", "v").Error("failed")
	if line := buf.String(); !strings.Contains(line, "conn=c1 op.k=v") {
		t.Fatalf("got %q", line)
	}
	if !newLogger(&buf, &calls).Handler().Enabled(context.Background(), slog.LevelWarn) {
		t.Fatal("warn must stay enabled")
	}
}
