package main

// FerretDB v1's SQLite backend declares each collection's unique _id index on the expression
// _ferretdb_sjson->"_id" but looks documents up by _ferretdb_sjson->'$._id'. SQLite only uses an
// expression index for the identical expression, so every find, update and delete by _id scans
// the whole table, parsing each document's JSON: an update by _id costs 130 ms at 20,000
// documents. MongoDB always serves _id lookups from its index, and ccx relies on that.
//
// indexIDLookups gives every collection table an index on the expression the lookups use. It
// only adds an index: documents and FerretDB's own metadata are untouched, clients do not see it
// (listIndexes reads FerretDB's metadata) and DROP TABLE removes it with the collection.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB itself uses
)

const lookupIndexSuffix = "__ccx_id_lookup"

// indexIDLookups checks the SQLite files in dir every interval until ctx ends. A file is opened
// again only when it or its write-ahead log changed since the last pass.
func indexIDLookups(ctx context.Context, dir string, interval time.Duration, logger *slog.Logger) {
	seen := map[string]string{}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			stamp := fileStamp(file)
			if stamp == "" || seen[file] == stamp {
				continue
			}
			if err := indexFile(ctx, file); err != nil {
				logger.Debug("id lookup index", "file", file, "error", err)
				continue
			}
			seen[file] = stamp
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func fileStamp(file string) string {
	main, err := os.Stat(file)
	if err != nil {
		return ""
	}
	stamp := fmt.Sprintf("%d/%d", main.ModTime().UnixNano(), main.Size())
	if wal, err := os.Stat(file + "-wal"); err == nil {
		stamp += fmt.Sprintf("/%d/%d", wal.ModTime().UnixNano(), wal.Size())
	}
	return stamp
}

func indexFile(ctx context.Context, file string) error {
	// mode=rw: never create a file FerretDB has just removed (a dropped database).
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, `SELECT t.table_name FROM _ferretdb_collections t
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master i
			WHERE i.type = 'index' AND i.name = t.table_name || ?)`, lookupIndexSuffix)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, table := range tables {
		quoted := strings.ReplaceAll(table, `"`, `""`)
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s%s" ON "%s" (_ferretdb_sjson->'$._id')`,
			quoted, lookupIndexSuffix, quoted)
		if _, err := db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return err
		}
	}
	return nil
}
