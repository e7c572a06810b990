package node

import (
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	pebblevfs "github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultMetaCacheSize is the metadata store's block cache when the
// configuration names none.
const DefaultMetaCacheSize = 64 << 20

// metaMemTableSize is how much the metadata store buffers before it
// flushes a table to level 0.
const metaMemTableSize = 32 << 20

// openMeta opens the node's pebble store, tuned for what a node asks of it.
//
// Most lookups are of keys that are not there: every PUT of a new key reads
// the key's record first (to keep the newer of two) on every home. Without
// filters each such miss reads a block of every level-0 table and of every
// level below that could hold the key; on a node taking small PUTs the
// store's lookups were a fifth of its CPU, more than half of that reading
// sstable blocks (perf). Bloom filters (10 bits a key, about 1 % false
// positives) answer those misses from memory. Small objects travel inside
// their records, so records are kilobytes and pebble's 4 MiB default
// memtable flushed every thousand or so; a larger one keeps recent records
// in memory and level 0 short.
func openMeta(fs pebblevfs.FS, dir string, cacheSize int64, log *slog.Logger) (*pebble.DB, error) {
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the store holds its own reference
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: metaMemTableSize,
		Logger:       pebbleLogger{log},
		FS:           fs, // nil: the disk
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return pebble.Open(dir, opts)
}
