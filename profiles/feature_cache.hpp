// The per-exit features of a logits dump, cached on disk so a second command (or a sweep's next
// model, or a re-run) does not redo the pass over the logits.
//
// An entry is keyed by the SHA-256 of: a format version, the content SHA-256 of every input file
// (logits and labels), the layout and the exact per-exit temperatures. Hashing a file costs more
// than the feature pass itself (OpenSSL SHA-256 runs at ~1.3 GB/s on one core, the pass at
// about 2 GB/s per core), so each file's content hash is remembered beside the cache under the
// file's identity (device, inode, size, modification and status-change times in nanoseconds): a
// file is re-hashed only when one of those changes. The status-change time cannot be set by any
// program and changes on every write, so an edited file is always re-hashed. The one window - a
// file rewritten within the file system's timestamp granularity of being hashed - is closed the way
// git closes it: a hash is only remembered for a file unchanged for 2 s before hashing began.
//
// Entries are written atomically (temporary file, then rename) and checked on every read (magic,
// version, key, shape, size and a SHA-256 of the whole entry); an entry that fails any check is
// ignored and rewritten. Write failures are silent: the cache only ever saves time.
#pragma once

#include <cstddef>
#include <string>

namespace exitplan {

class SplitData;

// Where the command-line tools keep the cache: $EXITPLAN_CACHE_DIR if set (an empty value turns
// the cache off), else $XDG_CACHE_HOME/exitplan, else $HOME/.cache/exitplan; "" when none is set.
std::string DefaultFeatureCacheDir();

// The content SHA-256 of `path`, remembered in `cache_dir`/digests (see above). Throws InputError
// when the file cannot be read.
std::string CachedFileSha256(const std::string& path, const std::string& cache_dir);

// Fills the features of `s` from its cache entry when one is valid; false otherwise.
bool ReadCachedFeatures(SplitData& s, const std::string& key);
// Writes the features of `s` as the entry for `key` (errors ignored).
void WriteCachedFeatures(const SplitData& s, const std::string& key);
// The entry key of `s` for its current temperatures; "" when `s` is not cached.
std::string FeatureCacheKey(const SplitData& s);

}  // namespace exitplan
