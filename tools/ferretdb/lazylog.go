package main

// FerretDB's SQL layer calls Logger.With(statement, arguments) for every statement it runs, and
// slog's TextHandler formats those attributes at once, whatever the level: on an insert load
// that quoting of each document's JSON was 14 % of FerretDB's CPU, for debug lines a server at
// level warn never writes. lazyAttrs keeps the attributes and formats them only for a record
// that is written.

import (
	"context"
	"log/slog"
	"slices"
)

type lazyAttrs struct {
	inner slog.Handler
	attrs []slog.Attr
}

func (h *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 {
		return h.inner.Handle(ctx, r)
	}
	return h.inner.WithAttrs(h.attrs).Handle(ctx, r)
}

func (h *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &lazyAttrs{inner: h.inner, attrs: append(slices.Clip(h.attrs), attrs...)}
}

// WithGroup applies the kept attributes first: they belong outside the group.
func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	inner := h.inner
	if len(h.attrs) > 0 {
		inner = inner.WithAttrs(h.attrs)
	}
	return &lazyAttrs{inner: inner.WithGroup(name)}
}
