// Entry points of the reader for tests and fuzzers: read from ByteSources
// (e.g. in-memory buffers) instead of paths.

#ifndef ENCORE_IO_READER_INTERNAL_H_
#define ENCORE_IO_READER_INTERNAL_H_

#include <memory>
#include <vector>

#include "encore/reader.h"
#include "io/byte_source.h"

namespace encore::io {

Result<InteractionLog> ReadInteractionsFromSources(
    std::vector<std::unique_ptr<ByteSource>> sources, const ReadOptions& options,
    ReadReport* report);

}  // namespace encore::io

#endif  // ENCORE_IO_READER_INTERNAL_H_
