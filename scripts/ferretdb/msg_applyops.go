// mongo-backup test bed: the `applyOps` admin command for FerretDB v1.24.
//
// scripts/peers copies this file into FerretDB's internal/handler package and registers it
// (scripts/ferretdb/testbed.patch). It exists so that `mongorestore --oplogReplay` can replay an
// oplog into the test bed; it is a fixture, not a MongoDB-compatible implementation. What it
// covers and how a real mongod differs: docs/TESTBED.md ("Oplog and applyOps").
//
// Design: every oplog entry becomes the ordinary command a client would send (update with
// upsert, delete, create, drop, ...), run through FerretDB's own handler, so storage semantics
// stay FerretDB's.

package handler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/FerretDB/wire"

	"github.com/FerretDB/FerretDB/internal/handler/handlererrors"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// applyOpsHandler is the signature of FerretDB's command handlers (MsgUpdate, MsgDrop, ...).
type applyOpsHandler func(context.Context, *wire.OpMsg) (*wire.OpMsg, error)

// MsgApplyOps implements a test-bed subset of the `applyOps` command.
//
// Entries are applied one by one, in order; unlike mongod, a batch is not atomic: the entries
// before a failing one stay applied, and the reply says how many were.
func (h *Handler) MsgApplyOps(connCtx context.Context, msg *wire.OpMsg) (*wire.OpMsg, error) {
	document, err := opMsgDocument(msg)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	if document.Has("preCondition") {
		return nil, handlererrors.NewCommandErrorMsgWithArgument(
			handlererrors.ErrNotImplemented, "applyOps: preCondition is not supported by the test bed", "applyOps",
		)
	}

	ops, ok := must.NotFail(document.Get("applyOps")).(*types.Array)
	if !ok {
		return nil, handlererrors.NewCommandErrorMsgWithArgument(
			handlererrors.ErrFailedToParse, "applyOps: the applyOps field must be an array", "applyOps",
		)
	}

	// mongod's applyOps turns an update that matches nothing into an upsert unless told not to.
	alwaysUpsert := true
	if v, _ := document.Get("alwaysUpsert"); v != nil {
		if b, isBool := v.(bool); isBool {
			alwaysUpsert = b
		}
	}

	results := types.MakeArray(ops.Len())

	for i := 0; i < ops.Len(); i++ {
		entry, isDoc := must.NotFail(ops.Get(i)).(*types.Document)
		if !isDoc {
			err = handlererrors.NewCommandErrorMsg(handlererrors.ErrFailedToParse, "an oplog entry must be a document")
		} else {
			err = h.applyOplogEntry(connCtx, entry, alwaysUpsert)
		}

		if err != nil {
			results.Append(false)
			return applyOpsFailure(i, results, err)
		}

		results.Append(true)
	}

	return documentOpMsg(must.NotFail(types.NewDocument(
		"applied", int32(ops.Len()),
		"results", results,
		"ok", float64(1),
	)))
}

// applyOpsFailure answers as mongod does when an entry fails: ok 0, the entry's error, and how
// many entries were applied before it.
func applyOpsFailure(index int, results *types.Array, err error) (*wire.OpMsg, error) {
	code := handlererrors.ErrBadValue

	var ce *handlererrors.CommandError
	if errors.As(err, &ce) {
		code = ce.Code()
		err = ce.Err()
	}

	return documentOpMsg(must.NotFail(types.NewDocument(
		"applied", int32(index),
		"results", results,
		"code", int32(code),
		"codeName", strings.TrimPrefix(code.String(), "Err"),
		"errmsg", fmt.Sprintf("applyOps: entry %d failed: %s", index, err),
		"ok", float64(0),
	)))
}

// applyOplogEntry applies one oplog entry (op i, u, d, n or c).
func (h *Handler) applyOplogEntry(ctx context.Context, entry *types.Document, alwaysUpsert bool) error {
	op, _ := entry.Get("op")
	ns, _ := entry.Get("ns")
	nsString, _ := ns.(string)
	o, _ := entry.Get("o")
	object, _ := o.(*types.Document)

	if op == "n" {
		return nil
	}

	if object == nil {
		return oplogEntryError("field 'o' must be a document")
	}

	dbName, collection, _ := strings.Cut(nsString, ".")
	if dbName == "" || (collection == "" && op != "c") {
		return oplogEntryError(fmt.Sprintf("invalid namespace %q", nsString))
	}

	switch op {
	case "i":
		return h.applyOplogInsert(ctx, dbName, collection, object)
	case "u":
		o2, _ := entry.Get("o2")
		filter, isDoc := o2.(*types.Document)
		if !isDoc {
			return oplogEntryError("an update entry needs 'o2' (the document's _id)")
		}

		return h.applyOplogUpdate(ctx, dbName, collection, filter, object, alwaysUpsert)
	case "d":
		return h.applyOplogDelete(ctx, dbName, collection, object)
	case "c":
		return h.applyOplogCommand(ctx, dbName, object, alwaysUpsert)
	default:
		return oplogEntryError(fmt.Sprintf("unknown op type %v", op))
	}
}

// applyOplogInsert inserts the document, or replaces the one with its _id: an oplog replayed over
// a dump taken while writes happened meets documents the dump already holds (mongod's oplog
// application is idempotent the same way).
func (h *Handler) applyOplogInsert(ctx context.Context, dbName, collection string, doc *types.Document) error {
	id, err := doc.Get("_id")
	if err != nil {
		return oplogEntryError("an insert entry's document has no _id")
	}

	filter := must.NotFail(types.NewDocument("_id", id))

	return h.runUpdate(ctx, dbName, collection, filter, doc, true)
}

// applyOplogUpdate applies a `u` entry: a replacement document, the `$v: 1` form
// (`$set`/`$unset`) or a `$v: 2` diff.
func (h *Handler) applyOplogUpdate(
	ctx context.Context, dbName, collection string, filter, object *types.Document, upsert bool,
) error {
	update, err := updateFromOplog(object)
	if err != nil {
		return err
	}

	if update.Len() == 0 {
		return nil // an empty diff changes nothing
	}

	return h.runUpdate(ctx, dbName, collection, filter, update, upsert)
}

// updateFromOplog turns a `u` entry's `o` into an update document FerretDB's update accepts.
func updateFromOplog(object *types.Document) (*types.Document, error) {
	version, _ := object.Get("$v")

	if isVersion2(version) {
		d, _ := object.Get("diff")
		diffDoc, isDoc := d.(*types.Document)
		if !isDoc {
			return nil, oplogEntryError("a $v: 2 update needs a 'diff' document")
		}

		return updateFromDiff(diffDoc)
	}

	update := object.DeepCopy()
	update.Remove("$v")

	return update, nil
}

// isVersion2 reports whether `$v` marks a `$v: 2` (delta) update, whatever number type holds it.
func isVersion2(v any) bool {
	switch v := v.(type) {
	case int32:
		return v == 2
	case int64:
		return v == 2
	case float64:
		return v == 2
	default:
		return false
	}
}

// updateFromDiff converts a `$v: 2` diff into `$set` / `$unset`.
func updateFromDiff(diff *types.Document) (*types.Document, error) {
	set := types.MakeDocument(0)
	unset := types.MakeDocument(0)

	if err := collectDiff(diff, "", set, unset); err != nil {
		return nil, err
	}

	update := types.MakeDocument(2)
	if set.Len() > 0 {
		update.Set("$set", set)
	}

	if unset.Len() > 0 {
		update.Set("$unset", unset)
	}

	return update, nil
}

// collectDiff walks one level of a `$v: 2` diff (an object diff, or an array diff marked `a`)
// and adds its changes under prefix to set and unset.
func collectDiff(diff *types.Document, prefix string, set, unset *types.Document) error {
	isArray := diff.Has("a")

	for _, key := range diff.Keys() {
		value := must.NotFail(diff.Get(key))

		switch {
		case key == "a":
			// marks an array diff
		case key == "l":
			return handlererrors.NewCommandErrorMsg(
				handlererrors.ErrNotImplemented,
				fmt.Sprintf("$v: 2 array resize at %q is not supported by the test bed", strings.TrimSuffix(prefix, ".")),
			)
		case !isArray && (key == "u" || key == "i" || key == "d"):
			fields, isDoc := value.(*types.Document)
			if !isDoc {
				return oplogEntryError(fmt.Sprintf("$v: 2 diff section %q must be a document", key))
			}

			for _, field := range fields.Keys() {
				if key == "d" {
					unset.Set(prefix+field, "")
				} else {
					set.Set(prefix+field, must.NotFail(fields.Get(field)))
				}
			}
		case isArray && strings.HasPrefix(key, "u"):
			set.Set(prefix+key[1:], value)
		case strings.HasPrefix(key, "s"):
			sub, isDoc := value.(*types.Document)
			if !isDoc {
				return oplogEntryError(fmt.Sprintf("$v: 2 sub-diff %q must be a document", key))
			}

			if err := collectDiff(sub, prefix+key[1:]+".", set, unset); err != nil {
				return err
			}
		default:
			return oplogEntryError(fmt.Sprintf("unknown $v: 2 diff section %q", key))
		}
	}

	return nil
}

// applyOplogDelete deletes the one document the entry names (`o` = {_id}).
func (h *Handler) applyOplogDelete(ctx context.Context, dbName, collection string, filter *types.Document) error {
	cmd := must.NotFail(types.NewDocument(
		"delete", collection,
		"deletes", must.NotFail(types.NewArray(must.NotFail(types.NewDocument(
			"q", filter,
			"limit", int32(1),
		)))),
		"$db", dbName,
	))

	return runForApplyOps(ctx, h.MsgDelete, cmd)
}

// runUpdate runs one update (a replacement or operators) through FerretDB's update handler.
func (h *Handler) runUpdate(
	ctx context.Context, dbName, collection string, filter, update *types.Document, upsert bool,
) error {
	cmd := must.NotFail(types.NewDocument(
		"update", collection,
		"updates", must.NotFail(types.NewArray(must.NotFail(types.NewDocument(
			"q", filter,
			"u", update,
			"upsert", upsert,
		)))),
		"$db", dbName,
	))

	return runForApplyOps(ctx, h.MsgUpdate, cmd)
}

// applyOplogCommand applies a `c` entry: create, drop, dropDatabase, createIndexes,
// dropIndexes, renameCollection, or a nested applyOps.
//
// Like mongod's oplog application (and unlike its applyOps command), creating what exists or
// dropping what is gone is not an error, so a replay over a dump stays idempotent.
func (h *Handler) applyOplogCommand(ctx context.Context, dbName string, object *types.Document, alwaysUpsert bool) error {
	name := object.Command()

	switch name {
	case "create":
		cmd := object.DeepCopy()
		cmd.Remove("idIndex") // FerretDB always builds the _id index itself
		cmd.Set("$db", dbName)

		return ignoreCodes(runForApplyOps(ctx, h.MsgCreate, cmd), handlererrors.ErrNamespaceExists)
	case "drop":
		cmd := must.NotFail(types.NewDocument("drop", must.NotFail(object.Get(name)), "$db", dbName))
		return ignoreCodes(runForApplyOps(ctx, h.MsgDrop, cmd), handlererrors.ErrNamespaceNotFound)
	case "dropDatabase":
		cmd := must.NotFail(types.NewDocument("dropDatabase", int32(1), "$db", dbName))
		return runForApplyOps(ctx, h.MsgDropDatabase, cmd)
	case "createIndexes":
		return h.applyOplogCreateIndex(ctx, dbName, object)
	case "dropIndexes", "deleteIndexes", "dropIndex", "deleteIndex":
		cmd := must.NotFail(types.NewDocument(
			"dropIndexes", must.NotFail(object.Get(name)),
			"index", must.NotFail(object.Get("index")),
			"$db", dbName,
		))

		return ignoreCodes(
			runForApplyOps(ctx, h.MsgDropIndexes, cmd),
			handlererrors.ErrIndexNotFound, handlererrors.ErrNamespaceNotFound,
		)
	case "renameCollection":
		return h.applyOplogRename(ctx, object)
	case "applyOps":
		return h.applyNestedOps(ctx, object, alwaysUpsert)
	default:
		return handlererrors.NewCommandErrorMsg(
			handlererrors.ErrNotImplemented,
			fmt.Sprintf("oplog command %q is not supported by the test bed's applyOps", name),
		)
	}
}

// applyOplogCreateIndex turns the oplog's flat form `{createIndexes: coll, v, key, name, ...}`
// into the command's `{createIndexes: coll, indexes: [{key, name, ...}]}`.
func (h *Handler) applyOplogCreateIndex(ctx context.Context, dbName string, object *types.Document) error {
	spec := object.DeepCopy()
	spec.Remove("createIndexes")
	spec.Remove("v") // the index format version; FerretDB rejects it as an unknown option

	cmd := must.NotFail(types.NewDocument(
		"createIndexes", must.NotFail(object.Get("createIndexes")),
		"indexes", must.NotFail(types.NewArray(spec)),
		"$db", dbName,
	))

	return runForApplyOps(ctx, h.MsgCreateIndexes, cmd)
}

// applyOplogRename renames within a database. `dropTarget` (true, or the target's UUID in the
// oplog) drops the target first, since FerretDB's renameCollection has no dropTarget.
func (h *Handler) applyOplogRename(ctx context.Context, object *types.Document) error {
	from, _ := object.Get("renameCollection")
	to, _ := object.Get("to")

	toString, isString := to.(string)
	if !isString {
		return oplogEntryError("renameCollection needs 'to'")
	}

	if dropTarget, _ := object.Get("dropTarget"); dropTarget != nil && dropTarget != false {
		targetDB, targetColl, _ := strings.Cut(toString, ".")
		drop := must.NotFail(types.NewDocument("drop", targetColl, "$db", targetDB))

		if err := ignoreCodes(runForApplyOps(ctx, h.MsgDrop, drop), handlererrors.ErrNamespaceNotFound); err != nil {
			return err
		}
	}

	cmd := must.NotFail(types.NewDocument("renameCollection", from, "to", toString, "$db", "admin"))

	return runForApplyOps(ctx, h.MsgRenameCollection, cmd)
}

// applyNestedOps applies the entries of an `applyOps` oplog entry (how mongod logs some batches).
func (h *Handler) applyNestedOps(ctx context.Context, object *types.Document, alwaysUpsert bool) error {
	ops, isArray := must.NotFail(object.Get("applyOps")).(*types.Array)
	if !isArray {
		return oplogEntryError("a nested applyOps needs an array")
	}

	for i := 0; i < ops.Len(); i++ {
		entry, isDoc := must.NotFail(ops.Get(i)).(*types.Document)
		if !isDoc {
			return oplogEntryError("a nested oplog entry must be a document")
		}

		if err := h.applyOplogEntry(ctx, entry, alwaysUpsert); err != nil {
			return err
		}
	}

	return nil
}

// runForApplyOps runs a command document through a FerretDB handler and turns a write error in
// its reply into an error.
func runForApplyOps(ctx context.Context, handler applyOpsHandler, cmd *types.Document) error {
	request, err := documentOpMsg(cmd)
	if err != nil {
		return lazyerrors.Error(err)
	}

	reply, err := handler(ctx, request)
	if err != nil {
		return err
	}

	replyDoc, err := opMsgDocument(reply)
	if err != nil {
		return lazyerrors.Error(err)
	}

	writeErrors, _ := replyDoc.Get("writeErrors")
	if arr, isArray := writeErrors.(*types.Array); isArray && arr.Len() > 0 {
		first, _ := must.NotFail(arr.Get(0)).(*types.Document)
		code, _ := first.Get("code")
		errmsg, _ := first.Get("errmsg")
		codeInt, _ := code.(int32)

		return handlererrors.NewCommandErrorMsg(handlererrors.ErrorCode(codeInt), fmt.Sprint(errmsg))
	}

	return nil
}

// ignoreCodes returns nil when err is a command error with one of codes.
func ignoreCodes(err error, codes ...handlererrors.ErrorCode) error {
	var ce *handlererrors.CommandError
	if err != nil && errors.As(err, &ce) {
		for _, code := range codes {
			if ce.Code() == code {
				return nil
			}
		}
	}

	return err
}

// oplogEntryError is the error for an entry the test bed cannot parse.
func oplogEntryError(msg string) error {
	return handlererrors.NewCommandErrorMsg(handlererrors.ErrFailedToParse, msg)
}
