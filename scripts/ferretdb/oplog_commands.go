// mongo-backup test bed: `c` (command) oplog entries for FerretDB v1.24.
//
// scripts/peers copies this file into FerretDB's oplog decorator package; the decorator's
// CreateCollection, DropCollection, RenameCollection, DropDatabase, CreateIndexes and
// DropIndexes call it after they succeed (scripts/ferretdb/testbed.patch). Unpatched FerretDB
// logs no DDL, so a collection dropped or renamed between two backups would survive a replay.
// What the entries look like and how mongod's differ: docs/TESTBED.md ("Oplog and applyOps").

package oplog

import (
	"context"
	"log/slog"
	"time"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/logging"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// logCommand writes one `c` entry, `{op: "c", ns: "<db>.$cmd", o}`, when the oplog exists.
// Changes to the local database are not logged, as on mongod.
func logCommand(ctx context.Context, origB backends.Backend, l *slog.Logger, dbName string, o *types.Document) {
	if dbName == oplogDatabase {
		return
	}

	oplogC := findOplogCollection(ctx, origB, l)
	if oplogC == nil {
		return
	}

	d := &document{o: o, ns: dbName + ".$cmd", op: "c"}

	entry, err := d.marshal(time.Now())
	if err != nil {
		l.ErrorContext(ctx, "Failed to create command entry", logging.Error(err))
		return
	}

	if _, err = oplogC.InsertAll(ctx, &backends.InsertAllParams{Docs: []*types.Document{entry}}); err != nil {
		l.ErrorContext(ctx, "Failed to insert command entry", logging.Error(err))
	}
}

// findOplogCollection returns the unwrapped oplog collection, or nil when there is none
// (the same lookup as collection.oplogCollection, for callers that are not a collection).
func findOplogCollection(ctx context.Context, origB backends.Backend, l *slog.Logger) backends.Collection {
	db := must.NotFail(origB.Database(oplogDatabase))

	cList, err := db.ListCollections(ctx, &backends.ListCollectionsParams{Name: oplogCollection})
	if err != nil {
		l.ErrorContext(ctx, "Failed to list collections", logging.Error(err))
		return nil
	}

	if len(cList.Collections) == 0 {
		return nil
	}

	return must.NotFail(db.Collection(oplogCollection))
}

// createCommand is the `o` of a create entry, with the capped options when there are any.
func createCommand(params *backends.CreateCollectionParams) *types.Document {
	o := must.NotFail(types.NewDocument("create", params.Name))

	if params.Capped() {
		o.Set("capped", true)
		o.Set("size", params.CappedSize)

		if params.CappedDocuments > 0 {
			o.Set("max", params.CappedDocuments)
		}
	}

	return o
}

// renameCommand is the `o` of a renameCollection entry within one database.
func renameCommand(dbName string, params *backends.RenameCollectionParams) *types.Document {
	return must.NotFail(types.NewDocument(
		"renameCollection", dbName+"."+params.OldName,
		"to", dbName+"."+params.NewName,
		"stayTemp", false,
		"dropTarget", false,
	))
}

// createIndexCommand is the `o` of a createIndexes entry: mongod logs one entry per index, flat.
func createIndexCommand(collection string, index backends.IndexInfo) *types.Document {
	key := types.MakeDocument(len(index.Key))

	for _, pair := range index.Key {
		order := int32(1)
		if pair.Descending {
			order = -1
		}

		key.Set(pair.Field, order)
	}

	o := must.NotFail(types.NewDocument("createIndexes", collection, "v", int32(2), "key", key, "name", index.Name))
	if index.Unique {
		o.Set("unique", true)
	}

	return o
}
