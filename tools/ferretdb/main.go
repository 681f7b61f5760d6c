// Command ferretdb runs FerretDB v1 with its SQLite backend through FerretDB's embeddable package.
//
// Why not build upstream's cmd/ferretdb: built from the module proxy, its build info names FerretDB
// as the main module, so build/version demands a generated version.txt that the module zip lacks
// and the binary panics at start-up. Embedding skips that check, keeps FerretDB's state in memory
// and locks telemetry off.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only when -pprof-addr is set
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const upstream = "github.com/FerretDB/FerretDB"

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI: an existing directory, ending with /")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	idLookups := flag.Bool("index-id-lookups", true, "index the expression FerretDB looks _id up by (see idindex.go)")
	pprofAddr := flag.String("pprof-addr", "", "serve Go's /debug/pprof on this address (diagnostics)")
	flag.Parse()

	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := slog.New(&lazyAttrs{inner: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	// Report the real module version in buildInfo/serverStatus instead of "unknown".
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == upstream {
				version.Get().Version = dep.Version
			}
		}
	}

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
	})
	if err != nil {
		logger.Error("cannot start", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *idLookups {
		dir := strings.TrimPrefix(strings.SplitN(*sqliteURL, "?", 2)[0], "file:")
		go indexIDLookups(ctx, dir, 250*time.Millisecond, logger)
	}

	logger.Info("listening", "uri", server.MongoDBURI(), "version", version.Get().Version)
	if err := server.Run(ctx); err != nil {
		logger.Error("stopped with an error", "error", err)
		os.Exit(1)
	}
}
