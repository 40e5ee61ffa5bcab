// Which target types have their optional capabilities proven against real storage elsewhere in
// this folder. The shared suite (target-suite.ts) checks that a target declaring a capability is
// one of these, so a new target cannot declare removeStaleTemporaries without a test that plants
// real leftovers and watches them go (temporaries.test.ts, which checks its own coverage of this list).
export const CLEANUP_PROVEN_FOR: readonly string[] = ['local', 'sftp', 'ftp', 's3'];
// Object Lock (lockOf, removeHiddenVersions): proven against a versioned versitygw in
// test/integration/object-lock.test.ts.
export const OBJECT_LOCK_PROVEN_FOR: readonly string[] = ['s3'];
